"""Routes on LocalStack's router, added when LocalStack starts (hook `localstack.hooks.on_infra_start`):

[/<region>]/v1/repos/...  CodeCommit's git smart HTTP (what the clone URLs rewritten to LocalStack reach),
                   served by the harness's CodeCommit plane, as the embedded emulator's front door does
/_gitops/health    which plugin providers are registered, which LocalStack has loaded, their versions
                   and implemented operations (what `--target localstack` reads for its capabilities)
/_gitops/listeners every ELBv2 listener's local URL (containers.py's ALB data plane), as the embedded
                   emulator's /_emulator/listeners
"""

from __future__ import annotations

import importlib
import io
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from localstack.runtime import hooks

LISTENERS_PATH = "/_gitops/listeners"
ADDED_INTRINSICS: list[str] = []  # intrinsic functions the plugin added to LocalStack's CloudFormation
OVERRIDDEN_TYPES: list[str] = []  # resource types whose LocalStack provider the plugin's replaces
HEALTH_PATH = "/_gitops/health"
GIT_PATH = "/v1/repos/<path:rest>"
# the region-prefixed form the clone URLs are rewritten to (codecommit.insteadof_config, as the embedded target)
GIT_REGION_PATH = '/<regex("[a-z]{2}(-[a-z]+)+-[0-9]+"):region>/v1/repos/<path:rest>'


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _resource_types() -> list[str]:
    """The CloudFormation resource types LocalStack has a provider for (plux names are lower-cased)."""
    from plux import PluginManager

    names = PluginManager("localstack.cloudformation.resource_providers").list_names()
    return sorted(names)


def _served_by_moto(config: Any) -> dict[str, Any]:
    """The providers that send LocalStack's moto the work, with the harness's patch groups: ECS, ECR and
    ELBv2 (containers.py) and the opt-in Lambda (lambda_provider.py, PROVIDER_OVERRIDE_LAMBDA=gitops)."""
    from gitops_localstack import containers, lambda_provider

    served: dict[str, Any] = {}
    for api in containers.SERVICES:
        served[api] = {
            "configured_provider": config.SERVICE_PROVIDER_CONFIG.get_provider(api),
            "loaded": containers.ACTIVE.get(api),
            "operations": [],
            "served_by": "moto",
        }
    served["lambda"] = {
        "configured_provider": config.SERVICE_PROVIDER_CONFIG.get_provider("lambda"),
        "loaded": lambda_provider.ACTIVE.get("lambda"),
        "operations": [],
        "served_by": "moto",
        **lambda_provider.status(),
    }
    return served


def _containers_status() -> dict[str, Any]:
    from gitops_localstack import containers

    return containers.status()


def health(request: Any, **_: Any) -> Any:
    from localstack import config
    from rolo import Response

    from gitops_localstack import __version__, eventbridge, providers, runtime

    services: dict[str, Any] = {}
    for api, entry in runtime.PLANES.items():
        module_name, _, class_name = entry.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
            operations = sorted(cls.implemented_operations())
            error = None
        except Exception as exc:  # an import failure is what the target must report, not hide
            operations, error = [], f"{type(exc).__name__}: {exc}"
        services[api] = {
            "configured_provider": config.SERVICE_PROVIDER_CONFIG.get_provider(api),
            "loaded": providers.ACTIVE.get(api),
            "operations": operations,
            **({"error": error} if error else {}),
        }
    services.update(_served_by_moto(config))
    return Response.for_json(
        {
            "plugin": "gitops-harness-localstack",
            "version": __version__,
            "harness_version": _dist_version("ecs-gitops-harness"),
            "localstack_version": _dist_version("localstack-core"),
            "git_smart_http": True,
            "time_scale": runtime.time_scale(),  # clock seconds per AWS second of the planes' waits
            "git_credentials": "LocalStack IAM (CreateServiceSpecificCredential)",
            "eventbridge_targets": eventbridge.registered(),  # rule target services delivered to planes
            # CodeStar Notifications' managed rule is in LocalStack's EventBridge, its target our sender
            "notification_rules_fed": eventbridge.notification_rules_fed(),
            "cloudformation_types": _resource_types(),
            "providers": services,
            "containers": _containers_status(),
            "cloudformation_intrinsics_added": ADDED_INTRINSICS,
            "cloudformation_types_overridden": OVERRIDDEN_TYPES,
        }
    )


def listeners(request: Any, **_: Any) -> Any:
    from rolo import Response

    from gitops_localstack import containers

    plane = containers.data_plane()
    return Response.for_json({"listeners": plane.listeners() if plane is not None else []})


def git(request: Any, **_: Any) -> Any:
    """Hand the request to the CodeCommit plane's git app (a WSGI app) with a WSGI environ of its own."""
    from werkzeug.wrappers import Response as WerkzeugResponse

    from gitops_localstack import runtime

    plane = runtime.plane("codecommit")
    body = request.get_data()
    environ = dict(request.environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["PATH_INFO"] = request.path
    route = plane.extra_route(None, environ)
    if route is None:
        return WerkzeugResponse("not a git smart HTTP path\n", status=404)
    _service, _operation, _account, app = route
    return _call_wsgi(app, environ)


def _call_wsgi(app: Any, environ: dict[str, Any]) -> Any:
    """The WSGI app's whole answer as one response. dulwich writes the pack and ref advertisement
    through start_response's write(), which werkzeug's Response.from_app(buffered=True) drops."""
    from werkzeug.wrappers import Response as WerkzeugResponse

    chunks: list[bytes] = []
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.update(status=status, headers=headers)
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return WerkzeugResponse(b"".join(chunks), status=started["status"], headers=started["headers"])


@hooks.on_infra_start()
def register_routes() -> None:
    from localstack.services.edge import ROUTER

    from gitops_localstack import buckets, cfn_overrides, intrinsics

    if intrinsics.install():  # the pipeline stack's subnets need Fn::Cidr, which 4.14's engine lacks
        ADDED_INTRINSICS.append(intrinsics.FN_CIDR)
    OVERRIDDEN_TYPES.extend(cfn_overrides.install())  # where LocalStack's provider fails the stacks
    buckets.install()  # the planes' bucket lookups (a pipeline's artifact store) read LocalStack's S3
    ROUTER.add(LISTENERS_PATH, listeners, methods=["GET"])
    ROUTER.add(HEALTH_PATH, health, methods=["GET"])
    ROUTER.add(GIT_PATH, git, methods=["GET", "POST"])
    ROUTER.add(GIT_REGION_PATH, git, methods=["GET", "POST"])


@hooks.on_infra_shutdown()
def stop_planes() -> None:
    """Stop the planes' scheduler with LocalStack, so no job acts on a gateway that is going away."""
    from gitops_localstack import containers, lambda_provider, runtime

    runtime.shutdown()
    containers.stop()  # the ECS tasks' processes and the listeners' servers
    lambda_provider.stop()
