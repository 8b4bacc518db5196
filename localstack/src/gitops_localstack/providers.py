"""`localstack.aws.provider` entry points: each service's Service built on the one adapter.

`<service>:default` serves a service the edition lacks (community 4.14 answers 501 for all five);
`<service>:gitops` is the same provider, chosen with PROVIDER_OVERRIDE_<SERVICE>=gitops where the
user's LocalStack has its own.
"""

from __future__ import annotations

from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.services.plugins import Service, aws_provider

from gitops_localstack.adapter import PlaneProvider

ACTIVE: dict[str, str] = {}  # service -> provider name, once LocalStack created it (the health route)


def _service(api: str, name: str) -> Service:
    provider = PlaneProvider(api)
    service = Service(
        name=api, skeleton=Skeleton(load_service(api), provider.dispatch_table()), lifecycle_hook=None
    )
    service._provider = provider
    ACTIVE[api] = name
    return service


def _pair(api: str):  # type: ignore[no-untyped-def]
    return (
        aws_provider(api=api, name="default")(lambda: _service(api, "default")),
        aws_provider(api=api, name="gitops")(lambda: _service(api, "gitops")),
    )


codepipeline, codepipeline_gitops = _pair("codepipeline")
codecommit, codecommit_gitops = _pair("codecommit")
codebuild, codebuild_gitops = _pair("codebuild")
codedeploy, codedeploy_gitops = _pair("codedeploy")
codestar_notifications, codestar_notifications_gitops = _pair("codestar-notifications")
