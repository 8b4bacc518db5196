"""CKV_GITOPS_8: CodeBuild privileged mode (a Docker daemon with root on the host) only for image builds.

Evidence that a project builds images, any of:
  - an inline buildspec that runs `docker build` / `docker buildx` / `docker image build`;
  - an environment variable that points at an ECR repository: a reference to an
    AWS::ECR::Repository of the template, or a literal <account>.dkr.ecr.<region>.amazonaws.com value;
  - the tag gitops-harness:builds-images = "true" (for buildspecs kept in the source repository).
"""

from __future__ import annotations

import re
from typing import Any

from checkov.common.models.enums import CheckResult

from gitops_cfn import Template, TemplateCheck, as_list, is_true, properties

DOCKER_BUILD = re.compile(r"\bdocker\s+(build|buildx|image\s+build)\b")
ECR_REGISTRY = re.compile(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com")
BUILDS_IMAGES_TAG = "gitops-harness:builds-images"


def builds_images(template: Template, props: dict[str, Any]) -> bool:
    buildspec = template.resolve((props.get("Source") or {}).get("BuildSpec"))
    if isinstance(buildspec, str) and DOCKER_BUILD.search(buildspec):
        return True
    for variable in as_list((props.get("Environment") or {}).get("EnvironmentVariables")):
        if not isinstance(variable, dict):
            continue
        value = variable.get("Value")
        if any(template.type_of(r) == "AWS::ECR::Repository" for r in template.references(value)):
            return True
        text = template.resolve(value)
        if isinstance(text, dict) and "Fn::Sub" in text:
            text = text["Fn::Sub"][0] if isinstance(text["Fn::Sub"], list) else text["Fn::Sub"]
        if isinstance(text, str) and ECR_REGISTRY.search(text):
            return True
    return any(
        isinstance(tag, dict)
        and tag.get("Key") == BUILDS_IMAGES_TAG
        and is_true(template.resolve(tag.get("Value")))
        for tag in as_list(props.get("Tags"))
    )


class PrivilegedOnlyForImageBuilds(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure CodeBuild PrivilegedMode is enabled only on projects that build container images",
            check_id="CKV_GITOPS_8",
            anchor="ckv_gitops_8",
            resource_types=("AWS::CodeBuild::Project",),
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        props = properties(resource)
        privileged = is_true(template.resolve((props.get("Environment") or {}).get("PrivilegedMode")))
        if privileged and not builds_images(template, props):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = PrivilegedOnlyForImageBuilds()
