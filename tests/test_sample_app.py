"""The sample service in fixtures/app: both endpoints answer as the target groups and the harness expect."""

from __future__ import annotations

import importlib.util
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

APP_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "app"


def _load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gitops_sample_app", APP_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app = _load_app()


@pytest.fixture
def base_url() -> Iterator[str]:
    # Port 0: the OS picks a free port. The socket listens once the server is constructed,
    # so requests queue in the backlog until serve_forever picks them up; no waiting needed.
    server = app.make_server(host="127.0.0.1", port=0, version="9.9.9+test")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _get(url: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], json.loads(error.read())


def test_root_reports_service_and_version(base_url: str) -> None:
    status, content_type, body = _get(base_url + "/")
    assert status == 200
    assert content_type == "application/json"
    assert body == {"service": "gitops-sample", "version": "9.9.9+test"}


def test_health_answers_200(base_url: str) -> None:
    status, _, body = _get(base_url + "/health")
    assert status == 200
    assert body == {"status": "ok"}


def test_unknown_path_is_404(base_url: str) -> None:
    status, _, body = _get(base_url + "/nope")
    assert status == 404
    assert "/nope" in body["error"]


def test_version_comes_from_env_first_then_file(tmp_path: Path) -> None:
    version_file = tmp_path / "VERSION"
    version_file.write_text("2.3.4+abc\n", encoding="utf-8")
    assert app.resolve_version({"APP_VERSION": "from-env"}, version_file) == "from-env"
    assert app.resolve_version({}, version_file) == "2.3.4+abc"
    assert app.resolve_version({}, tmp_path / "missing") == "unknown"


def test_shipped_version_file_is_read() -> None:
    assert app.resolve_version({}) == (APP_DIR / "VERSION").read_text(encoding="utf-8").strip()
