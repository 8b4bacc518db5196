from pathlib import Path

import pytest

from gitops_harness.config import find_config, load_config
from gitops_harness.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_repository_config_loads_with_paths_resolved_against_its_folder():
    config = load_config(REPO / "harness.yaml")
    assert config.accounts.management == "111111111111"
    assert config.accounts.pipeline == "222222222222"
    assert config.templates.pipeline == REPO / "fixtures/pipeline/pipeline-account.yaml"
    assert config.policy.paths == (REPO / "fixtures/pipeline",)
    assert config.default_target == "embedded"


def test_config_is_found_from_a_subfolder(tmp_path: Path):
    (tmp_path / "harness.yaml").write_text("project: x\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_config(sub) == tmp_path / "harness.yaml"


def test_local_override_is_merged_deeply(tmp_path: Path):
    (tmp_path / "harness.yaml").write_text(
        "accounts: {management: '111111111111', pipeline: '222222222222'}\n"
        "targets: {aws: {region: eu-west-1, allowed_accounts: []}}\n"
    )
    (tmp_path / "harness.local.yaml").write_text("targets: {aws: {allowed_accounts: ['333333333333']}}\n")
    config = load_config(tmp_path / "harness.yaml")
    aws = config.target_settings("aws")
    assert aws == {"region": "eu-west-1", "allowed_accounts": ["333333333333"]}
    assert config.accounts.pipeline == "222222222222"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accounts: {management: '12345'}\n", "accounts.management must be a 12-digit account id"),
        ("accounts: {management: '111111111111', pipeline: '111111111111'}\n", "must differ"),
        ("targets: {default: mars}\n", "targets.default must be one of"),
        ("policy: {paths: 3}\n", "policy.paths must be a list"),
        ("- a list\n", "the config must be a mapping"),
        ("accounts: [\n", "cannot parse YAML"),
    ],
)
def test_bad_config_is_one_line_error_naming_the_key(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "harness.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_explicit_config_is_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_secret_comes_from_the_named_environment_variable(tmp_path: Path, monkeypatch):
    (tmp_path / "harness.yaml").write_text("chat: {webhook_url_env: MY_HOOK}\n")
    config = load_config(tmp_path / "harness.yaml")
    monkeypatch.delenv("MY_HOOK", raising=False)
    with pytest.raises(InputError, match="MY_HOOK is empty"):
        config.secret("webhook_url_env", config.chat)
    monkeypatch.setenv("MY_HOOK", "https://hooks.example/x")
    assert config.secret("webhook_url_env", config.chat) == "https://hooks.example/x"
