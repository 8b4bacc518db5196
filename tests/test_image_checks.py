"""image_checks on configs that break each rule (the suite runs them on the real image)."""

from __future__ import annotations

from gitops_harness.image_checks import config_problems

GOOD = {
    "config": {
        "User": "10001",
        "ExposedPorts": {"8080/tcp": {}},
        "Healthcheck": {"Test": ["CMD", "python", "-c", "..."]},
        "Env": ["PORT=8080", "PATH=/usr/bin"],
        "Labels": {"org.opencontainers.image.revision": "abc"},
    }
}


def _with(**changes: object) -> dict:
    return {"config": {**GOOD["config"], **changes}}


def test_a_good_config_has_no_problems() -> None:
    assert config_problems(GOOD, 8080) == []


def test_each_rule_can_fail() -> None:
    assert "runs as root (USER unset)" in config_problems(_with(User=""), 8080)[0]
    assert "runs as root" in config_problems(_with(User="root:root"), 8080)[0]
    assert "does not EXPOSE 9090/tcp" in config_problems(GOOD, 9090)[0]
    assert config_problems(_with(Healthcheck={"Test": ["NONE"]}), 8080) == ["the image has no HEALTHCHECK"]
    secrets = config_problems(
        _with(Env=["DB_PASSWORD=hunter2", "HARMLESS=AKIAABCDEFGHIJKLMNOP"], Labels={"api-token": "x"}), 8080
    )
    assert len(secrets) == 3 and all("value not shown" in s and "hunter2" not in s for s in secrets)
    assert config_problems(_with(Env=["TOKEN_URL="]), 8080) == []  # a name alone, with no value, is no secret
