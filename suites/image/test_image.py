"""The app's image: from its OCI config everywhere; as a running container (testinfra, docker backend)
where a container engine answers and GITOPS_HARNESS_IMAGE names the pushed image, skipped with the
reason elsewhere."""

from __future__ import annotations

import json
import shlex

from gitops_harness.image_checks import healthcheck_problem, port_problem, secret_problems, user_problem
from gitops_harness.waiting import wait_until


def test_the_image_runs_as_a_non_root_user(image_config) -> None:
    assert user_problem(image_config) is None


def test_the_image_exposes_the_taskdefs_container_port(image_config, container_port) -> None:
    assert port_problem(image_config, container_port) is None


def test_the_image_has_a_healthcheck(image_config) -> None:
    assert healthcheck_problem(image_config) is None


def test_no_secrets_in_the_images_environment_or_labels(image_config) -> None:
    assert secret_problems(image_config) == []


# -- a running container (testinfra) -------------------------------------------------------------------


def _get(host, port: int, path: str) -> dict:
    script = f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=2).read().decode())"
    return json.loads(host.check_output(f"python -c {shlex.quote(script)}"))


def test_the_container_runs_as_non_root(host) -> None:
    assert host.user().uid != 0


def test_the_container_listens_and_answers_health(host, container_port) -> None:
    wait_until(
        lambda: host.socket(f"tcp://0.0.0.0:{container_port}").is_listening,
        timeout=30,
        describe_expected=f"the app listening on {container_port}",
    )
    assert _get(host, container_port, "/health")


def test_the_container_reports_the_commit_as_its_version(host, container_port, expected_version) -> None:
    version = _get(host, container_port, "/")["version"]
    assert version not in ("", "unknown")
    if expected_version:
        assert version == expected_version


def test_no_secrets_in_the_containers_environment(host) -> None:
    environment = dict(line.partition("=")[::2] for line in host.check_output("env").splitlines())
    config = {"config": {"Env": [f"{k}={v}" for k, v in environment.items()]}}
    assert secret_problems(config) == []
