"""The plugin's resource providers first for the types where LocalStack's own provider fails the
reference stacks.

LocalStack 4.14 community's AWS::ECR::Repository provider creates nothing (it answers a RepositoryUri of
"http://localhost:4566" for CDK bootstrap), so the pipeline's build would push to no repository; its
AWS::SNS::Topic provider passes every property to CreateTopic as an attribute, so a topic with
DeliveryStatusLogging (the notification topic) fails with a parameter validation error. plux
keeps one plugin per name in a namespace, and which of two same-named ones wins depends on discovery
order; so `install()` (on LocalStack's start) wraps LocalStack's provider lookup to answer the plugin's
provider for exactly the types in REPLACED, and leaves every other lookup as it was.
"""

from __future__ import annotations

from typing import Any

REPLACED = ("AWS::ECR::Repository", "AWS::SNS::Topic")


def install() -> list[str]:
    """The types whose lookup now answers the plugin's provider (empty if already installed)."""
    from localstack.services.cloudformation import resource_provider

    executor = resource_provider.ResourceProviderExecutor
    original = executor.__dict__["try_load_resource_provider"]
    if getattr(original, "gitops_overrides", None):
        return []
    load = original.__func__ if isinstance(original, staticmethod) else original

    def try_load_resource_provider(resource_type: str) -> Any:
        if resource_type in REPLACED:
            from gitops_localstack import cloudformation

            plugin = cloudformation._plugin_class(resource_type)()  # no entry point: plux would pick one
            plugin.load()
            return plugin.factory()
        return load(resource_type)

    try_load_resource_provider.gitops_overrides = REPLACED  # type: ignore[attr-defined]
    executor.try_load_resource_provider = staticmethod(try_load_resource_provider)
    return list(REPLACED)
