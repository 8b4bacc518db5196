"""The daemonless docker stand-in: Dockerfile evaluation, reproducible OCI images, and the CLI against
moto's ECR served over HTTP (login, build, tag, push, inspect), with docker's error messages."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import boto3
import pytest

from gitops_harness.emulator.docker_standin import launcher
from gitops_harness.emulator.docker_standin.builder import BuildRequest, build
from gitops_harness.emulator.docker_standin.errors import BuildError, DockerfileParseError
from gitops_harness.emulator.docker_standin.image_store import ImageStore, StoredImage
from gitops_harness.emulator.docker_standin.progress import PlainProgress
from gitops_harness.emulator.docker_standin.reference import parse_reference

ACCOUNT = "123456789012"  # moto's account for credentials it does not know
REGION = "us-east-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"

SAMPLE_DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG PYTHON_VERSION=3.12
FROM python:${PYTHON_VERSION}-slim
ARG APP_VERSION=dev
ENV PYTHONUNBUFFERED=1 \\
    PORT=8080 APP_VERSION=${APP_VERSION}
LABEL org.opencontainers.image.title="sample service" org.opencontainers.image.version=$APP_VERSION
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=10001:10001 app.py ./
COPY static/ ./static/
EXPOSE ${PORT}
USER 10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD curl -fsS http://localhost:${PORT}/health || exit 1
CMD ["python", "app.py"]
"""


def write_app(root: Path, dockerfile: str = SAMPLE_DOCKERFILE, app: str = "print('hello')\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "app.py").write_text(app)
    (root / "requirements.txt").write_text("flask==3.1.0\n")
    (root / "static").mkdir(exist_ok=True)
    (root / "static" / "index.html").write_text("<h1>hi</h1>\n")
    (root / "static" / "debug.pyc").write_bytes(b"\0compiled")
    (root / "secrets.env").write_text("TOKEN=do-not-ship\n")
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_app.py").write_text("def test(): pass\n")
    (root / "tests" / "fixture.json").write_text("{}\n")
    (root / "run.sh").write_text("#!/bin/sh\nexec python app.py\n")
    (root / "run.sh").chmod(0o755)
    (root / ".dockerignore").write_text(
        "# not in the image\nsecrets.env\n**/*.pyc\ntests\n!tests/fixture.json\n"
    )
    return root


def build_image(context: Path, home: Path, **kwargs) -> tuple[StoredImage, ImageStore, str]:
    store = ImageStore(home)
    out = io.StringIO()
    request = BuildRequest(
        context=context, dockerfile=kwargs.pop("dockerfile", context / "Dockerfile"), **kwargs
    )
    image = build(request, store, PlainProgress(out))
    return image, store, out.getvalue()


def layer_members(store: ImageStore, image: StoredImage) -> list[dict[str, tarfile.TarInfo]]:
    layers = []
    for descriptor in image.manifest_json["layers"]:
        with tarfile.open(fileobj=io.BytesIO(store.get_blob(descriptor["digest"])), mode="r:gz") as tar:
            layers.append({m.name: m for m in tar.getmembers()})
    return layers


# -- Dockerfile evaluation and the image ------------------------------------------------------------


def test_sample_dockerfile_gives_the_oci_config_docker_would(tmp_path: Path) -> None:
    image, _, output = build_image(
        write_app(tmp_path / "app"), tmp_path / "home", tags=[parse_reference("sample:1")]
    )
    config = image.config_json
    runtime = config["config"]
    assert runtime["ExposedPorts"] == {"8080/tcp": {}}
    assert runtime["Env"] == ["PYTHONUNBUFFERED=1", "PORT=8080", "APP_VERSION=dev"]
    assert runtime["Cmd"] == ["python", "app.py"]
    assert runtime["User"] == "10001"
    assert runtime["WorkingDir"] == "/app"
    assert runtime["Labels"] == {
        "org.opencontainers.image.title": "sample service",
        "org.opencontainers.image.version": "dev",
    }
    assert runtime["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -fsS http://localhost:${PORT}/health || exit 1"],
        "Interval": 30 * 10**9,
        "Timeout": 5 * 10**9,
        "StartPeriod": 10 * 10**9,
        "Retries": 3,
    }
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    # History: one entry per instruction (ARG excluded), layers only for COPY; RUN recorded, not run.
    history = config["history"]
    assert history[0]["created_by"] == "FROM python:3.12-slim" and history[0]["empty_layer"] is True
    run = [h for h in history if h["created_by"].startswith("RUN")]
    assert run == [
        {
            "created": "1970-01-01T00:00:00Z",
            "created_by": "RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit",
            "comment": "buildkit.dockerfile.v0; not executed by the gitops-harness docker stand-in",
            "empty_layer": True,
        }
    ]
    assert len([h for h in history if not h.get("empty_layer")]) == len(config["rootfs"]["diff_ids"]) == 3
    assert image.manifest_json["annotations"] == {
        "org.opencontainers.image.base.name": "docker.io/library/python:3.12-slim"
    }
    assert "#5 [1/6] FROM docker.io/library/python:3.12-slim" in output
    assert (
        f"writing image {image.id} done" in output and "naming to docker.io/library/sample:1 done" in output
    )


def test_layers_hold_the_copied_files_with_fixed_metadata(tmp_path: Path) -> None:
    image, store, _ = build_image(write_app(tmp_path / "app"), tmp_path / "home")
    requirements, app, static = layer_members(store, image)
    # (tarfile drops the trailing "/" of directory names when reading)
    assert sorted(requirements) == ["app", "app/requirements.txt"]
    assert sorted(app) == ["app", "app/app.py"]
    assert sorted(static) == ["app", "app/static", "app/static/index.html"]  # .pyc ignored
    assert requirements["app"].isdir() and static["app/static"].isdir()
    for member in [*requirements.values(), *static.values()]:
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
    assert (app["app/app.py"].uid, app["app/app.py"].gid) == (10001, 10001)  # --chown
    assert app["app"].uid == 0  # parent directories stay root-owned
    assert requirements["app"].mode == 0o755
    blob = store.get_blob(image.manifest_json["layers"][1]["digest"])
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        assert tar.extractfile("app/app.py").read() == b"print('hello')\n"
    # Digests are of the bytes: layer digest = sha256(gzip blob), diff_id = sha256(tar).
    assert image.manifest_json["layers"][1]["digest"] == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert (
        image.config_json["rootfs"]["diff_ids"][1]
        == "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    )
    assert blob[4:8] == b"\0\0\0\0"  # gzip header mtime 0


def test_same_input_same_digests_and_a_change_changes_them(tmp_path: Path) -> None:
    context = write_app(tmp_path / "app")
    first, _, _ = build_image(context, tmp_path / "home1")
    os.utime(context / "app.py", (1_000_000, 1_000_000))  # file times must not leak into the image
    second, _, _ = build_image(context, tmp_path / "home2")
    assert (second.id, second.manifest_digest) == (first.id, first.manifest_digest)
    (context / "app.py").write_text("print('changed')\n")
    third, _, _ = build_image(context, tmp_path / "home2")
    assert third.id != first.id
    assert third.manifest_json["layers"][0] == first.manifest_json["layers"][0]  # untouched layer unchanged


def test_dockerignore_excludes_and_reincludes(tmp_path: Path) -> None:
    context = write_app(tmp_path / "app", dockerfile="FROM scratch\nCOPY . /src/\n")
    image, store, _ = build_image(context, tmp_path / "home")
    (layer,) = layer_members(store, image)
    files = sorted(name for name, m in layer.items() if m.isfile())
    assert files == [
        "src/.dockerignore",
        "src/Dockerfile",
        "src/app.py",
        "src/requirements.txt",
        "src/run.sh",
        "src/static/index.html",
        "src/tests/fixture.json",
    ]
    assert layer["src/run.sh"].mode == 0o755  # COPY keeps the executable bit
    assert (
        "manifest" in image.manifest_json["mediaType"] and "annotations" not in image.manifest_json
    )  # scratch


def test_multi_stage_copy_from_and_target(tmp_path: Path) -> None:
    dockerfile = """\
FROM node:20 AS assets
WORKDIR /build
COPY static/ ./public/
RUN npm run build
FROM python:3.12-slim AS runtime
COPY --from=assets /build/public/index.html /srv/www/
COPY app.py /srv/
FROM runtime AS debug
LABEL debug=true
"""
    context = write_app(tmp_path / "app", dockerfile=dockerfile)
    image, store, output = build_image(context, tmp_path / "home", target="runtime")
    layers = layer_members(store, image)
    assert [sorted(layer) for layer in layers] == [
        ["srv", "srv/www", "srv/www/index.html"],
        ["srv", "srv/app.py"],
    ]
    assert "Labels" not in image.config_json["config"]  # the debug stage is not built
    assert "[assets 3/4] COPY static/ ./public/" in output and "debug" not in output
    # A stage FROM an earlier stage inherits its layers and config.
    debug, _, _ = build_image(context, tmp_path / "home")
    assert debug.manifest_json["layers"] == image.manifest_json["layers"]
    assert debug.config_json["config"]["Labels"] == {"debug": "true"}
    # Files only RUN would have made do not exist: say so instead of building a broken image.
    (context / "Dockerfile").write_text(
        "FROM node:20 AS b\nRUN npm ci\nFROM scratch\nCOPY --from=b /node_modules /app/\n"
    )
    with pytest.raises(BuildError, match=r'"/node_modules": not found .*does not execute RUN'):
        build_image(context, tmp_path / "home")


def test_build_args_override_defaults_and_reach_from(tmp_path: Path) -> None:
    context = write_app(tmp_path / "app")
    image, _, output = build_image(
        context,
        tmp_path / "home",
        build_args={"PYTHON_VERSION": "3.11", "APP_VERSION": "1.4.2", "NOT_DECLARED": "x"},
        labels={"com.example.commit": "abc123"},
    )
    runtime = image.config_json["config"]
    assert "APP_VERSION=1.4.2" in runtime["Env"]
    assert runtime["Labels"]["org.opencontainers.image.version"] == "1.4.2"
    assert runtime["Labels"]["com.example.commit"] == "abc123"  # --label
    assert image.config_json["history"][0]["created_by"] == "FROM python:3.11-slim"
    assert "[Warning] One or more build-args ['NOT_DECLARED'] were not consumed" in output


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        (
            "FROM python:3.12\nFOO bar\n",
            "ERROR: failed to solve: dockerfile parse error on line 2: unknown instruction: FOO",
        ),
        (
            "# comment\nCOPY app.py /app/\n",
            "ERROR: failed to solve: dockerfile parse error on line 2: no build stage in current context",
        ),
        (
            "FROM python:3.12\nEXPOSE http\n",
            "ERROR: failed to solve: dockerfile parse error on line 2: invalid containerPort: http",
        ),
        (
            "FROM python:3.12\nCOPY app.py\n",
            "ERROR: failed to solve: dockerfile parse error on line 2: COPY requires at least two arguments",
        ),
        ("", "ERROR: failed to solve: failed to parse dockerfile: file with no instructions"),
    ],
)
def test_malformed_dockerfiles_fail_like_buildkit(tmp_path: Path, dockerfile: str, message: str) -> None:
    with pytest.raises(BuildError) as caught:
        build_image(write_app(tmp_path / "app", dockerfile=dockerfile), tmp_path / "home")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    if "line" in message:
        assert isinstance(caught.value, DockerfileParseError)


def test_store_is_a_valid_oci_layout(tmp_path: Path) -> None:
    image, store, _ = build_image(
        write_app(tmp_path / "app"), tmp_path / "home", tags=[parse_reference("sample:1")]
    )
    layout = tmp_path / "home" / "oci"
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["digest"] == image.manifest_digest and entry["size"] == len(image.manifest)
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1"
    for descriptor in [image.manifest_json["config"], *image.manifest_json["layers"]]:
        data = (layout / "blobs" / "sha256" / descriptor["digest"].split(":")[1]).read_bytes()
        assert ("sha256:" + hashlib.sha256(data).hexdigest(), len(data)) == (
            descriptor["digest"],
            descriptor["size"],
        )


# -- the `docker` command on PATH against moto's ECR over HTTP --------------------------------------


@pytest.fixture(scope="module")
def ecr_endpoint() -> str:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def docker(ecr_endpoint: str, tmp_path: Path):
    env = launcher.environment(
        {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "AWS_ENDPOINT_URL": ecr_endpoint,
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_DEFAULT_REGION": REGION,
            "DOCKER_STANDIN_HOME": str(tmp_path / "standin"),
        }
    )

    def run(
        *args: str, stdin: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=60
        )

    run.env = env  # type: ignore[attr-defined]
    return run


def ecr_client(endpoint: str):
    return boto3.client(
        "ecr",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="secret",
    )


def login(docker, ecr) -> None:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    result = docker("login", "-u", "AWS", "--password-stdin", REGISTRY, stdin=password + "\n")
    assert (result.returncode, result.stdout) == (0, "Login Succeeded\n"), result.stderr


def test_docker_on_path_is_the_stand_in(docker) -> None:
    assert subprocess.run(
        ["sh", "-c", "command -v docker"], capture_output=True, text=True, env=docker.env
    ).stdout.strip() == str(launcher.BIN_DIR / "docker")
    result = docker("version")
    assert result.returncode == 0 and "gitops-harness docker stand-in" in result.stdout


def test_login_build_tag_push_inspect(docker, ecr_endpoint: str, tmp_path: Path) -> None:
    ecr = ecr_client(ecr_endpoint)
    ecr.create_repository(repositoryName="sample-service")
    uri = f"{REGISTRY}/sample-service"
    context = write_app(tmp_path / "app")

    refused = docker("login", "-u", "AWS", "--password-stdin", REGISTRY, stdin="wrong-password")
    assert (refused.returncode, refused.stderr.strip()) == (
        1,
        f"Error response from daemon: login attempted to https://{REGISTRY}/v2/ failed with status: 400 Bad Request",
    )
    docker("build", "-t", "sample:latest", ".", cwd=context)
    docker("tag", "sample:latest", f"{uri}:v1")
    no_login = docker("push", f"{uri}:v1")
    assert (no_login.returncode, no_login.stderr.strip()) == (1, "no basic auth credentials")

    started = time.perf_counter()
    login(docker, ecr)
    built = docker("build", "-t", f"{uri}:v1", "--build-arg", "APP_VERSION=1.0.0", ".", cwd=context)
    pushed = docker("push", f"{uri}:v1")
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(f"\nlogin+build+push of the sample: {elapsed_ms:.0f} ms")
    assert built.returncode == 0, built.stderr
    assert pushed.returncode == 0, pushed.stderr
    lines = pushed.stdout.splitlines()
    assert lines[0] == f"The push refers to repository [{uri}]"
    assert [line.split(": ")[1] for line in lines[1:-1]] == ["Pushed"] * 3
    assert lines[-1].startswith("v1: digest: sha256:")
    digest, size = lines[-1].removeprefix("v1: digest: ").split(" size: ")

    # The registry names the image by sha256 of the exact manifest bytes, like a real registry.
    described = ecr.describe_images(repositoryName="sample-service", imageIds=[{"imageTag": "v1"}])[
        "imageDetails"
    ][0]
    assert described["imageDigest"] == digest
    fetched = ecr.batch_get_image(repositoryName="sample-service", imageIds=[{"imageTag": "v1"}])["images"][0]
    assert "sha256:" + hashlib.sha256(fetched["imageManifest"].encode()).hexdigest() == digest
    assert len(fetched["imageManifest"].encode()) == int(size)
    assert fetched["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(fetched["imageManifest"])
    blobs = [manifest["config"]["digest"], *[la["digest"] for la in manifest["layers"]]]
    availability = ecr.batch_check_layer_availability(repositoryName="sample-service", layerDigests=blobs)
    assert [la["layerAvailability"] for la in availability["layers"]] == [
        "AVAILABLE"
    ] * 4 and not availability["failures"]

    repo_digest = docker("inspect", "--format", "{{index .RepoDigests 0}}", f"{uri}:v1")
    assert repo_digest.stdout.strip() == f"{uri}@{digest}"
    image_id = docker("image", "inspect", "-f", "{{.Id}}", f"{uri}:v1").stdout.strip()
    assert image_id == manifest["config"]["digest"]  # docker's image ID: the config digest
    config = json.loads(docker("inspect", "-f", "{{json .Config}}", f"{uri}:v1").stdout)
    assert config["ExposedPorts"] == {"8080/tcp": {}} and "APP_VERSION=1.0.0" in config["Env"]
    assert f"{uri}   v1" in docker("images").stdout

    again = docker("push", f"{uri}:v1")  # nothing new: docker reports existing layers and the same digest
    assert (
        again.returncode == 0
        and "Layer already exists" in again.stdout
        and again.stdout.endswith(f"v1: digest: {digest} size: {size}\n")
    )


def test_immutable_tag_cannot_be_overwritten(docker, ecr_endpoint: str, tmp_path: Path) -> None:
    ecr = ecr_client(ecr_endpoint)
    ecr.create_repository(repositoryName="frozen", imageTagMutability="IMMUTABLE")
    uri = f"{REGISTRY}/frozen"
    context = write_app(tmp_path / "app")
    login(docker, ecr)
    assert docker("build", "-q", "-t", f"{uri}:1.0", ".", cwd=context).returncode == 0
    assert docker("push", f"{uri}:1.0").returncode == 0
    (context / "app.py").write_text("print('v2')\n")
    assert docker("build", "-q", "-t", f"{uri}:1.0", ".", cwd=context).returncode == 0
    refused = docker("push", f"{uri}:1.0")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "tag invalid: The image tag '1.0' already exists in the 'frozen' repository and cannot be "
        "overwritten because the repository is immutable."
    )


def test_push_to_missing_repository_is_name_unknown(docker, ecr_endpoint: str, tmp_path: Path) -> None:
    login(docker, ecr_client(ecr_endpoint))
    context = write_app(tmp_path / "app")
    docker("build", "-q", "-t", f"{REGISTRY}/does-not-exist:1", ".", cwd=context)
    result = docker("push", f"{REGISTRY}/does-not-exist:1")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"name unknown: The repository with name 'does-not-exist' does not exist in the registry with id '{ACCOUNT}'"
    )


def test_cli_errors_are_one_docker_like_line(docker, tmp_path: Path) -> None:
    unsupported = docker("run", "--rm", "alpine")
    assert (unsupported.returncode, unsupported.stderr) == (
        1,
        "docker: 'run' is not supported by the gitops-harness stand-in\n",
    )
    context = write_app(tmp_path / "app", dockerfile="FROM python:3.12\nFOO bar\n")
    bad = docker("build", "-t", "x", ".", cwd=context)
    assert bad.returncode == 1
    assert (
        bad.stderr.splitlines()[-1]
        == "ERROR: failed to solve: dockerfile parse error on line 2: unknown instruction: FOO"
    )
    assert "Traceback" not in bad.stderr
    missing = docker("inspect", "-f", "{{.Id}}", "nope:1")
    assert (missing.returncode, missing.stderr) == (1, "Error: No such object: nope:1\n")
    no_digest = docker("build", "-q", "-t", "local:1", str(write_app(tmp_path / "ok")))
    assert no_digest.returncode == 0
    out_of_range = docker("inspect", "--format", "{{index .RepoDigests 0}}", "local:1")
    assert (
        out_of_range.returncode == 1 and "error calling index: index out of range: 0" in out_of_range.stderr
    )
    bad_flag = docker("build", "--no-such-flag", ".")
    assert bad_flag.returncode == 125
