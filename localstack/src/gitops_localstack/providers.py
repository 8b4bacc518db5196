"""`localstack.aws.provider` entry points: each service's Service built on the one adapter.

`<service>:default` serves a service the edition lacks (community 4.14 answers 501 for all five);
`<service>:gitops` is the same provider, chosen with PROVIDER_OVERRIDE_<SERVICE>=gitops where the
user's LocalStack has its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.services.plugins import Service, aws_provider

from gitops_localstack.adapter import PlaneProvider

ACTIVE: dict[str, str] = {}  # service -> provider name, once LocalStack created it (the health route)


def service_for(
    api: str, name: str, provider: Any, active: dict[str, str], lifecycle_hook: Any = None
) -> Service:
    """LocalStack's Service for `api` answered by `provider`, noted in `active` (the health route)."""
    service = Service(
        name=api,
        skeleton=Skeleton(load_service(api), provider.dispatch_table()),
        lifecycle_hook=lifecycle_hook,
    )
    service._provider = provider
    active[api] = name
    return service


def provider_pair(api: str, make: Callable[[str, str], Service]):  # type: ignore[no-untyped-def]
    """`<api>:default` and `<api>:gitops`, each making its Service with make(api, name)."""
    return (
        aws_provider(api=api, name="default")(lambda: make(api, "default")),
        aws_provider(api=api, name="gitops")(lambda: make(api, "gitops")),
    )


def _service(api: str, name: str) -> Service:
    return service_for(api, name, PlaneProvider(api), ACTIVE)


codepipeline, codepipeline_gitops = provider_pair("codepipeline", _service)
codecommit, codecommit_gitops = provider_pair("codecommit", _service)
codebuild, codebuild_gitops = provider_pair("codebuild", _service)
codedeploy, codedeploy_gitops = provider_pair("codedeploy", _service)
codestar_notifications, codestar_notifications_gitops = provider_pair("codestar-notifications", _service)
