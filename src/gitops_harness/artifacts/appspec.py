"""Rules for the ECS AppSpec file (appspec.yaml / appspec.yml, YAML or JSON) CodeDeploy reads.

Shape per the CodeDeploy user guide, "AppSpec 'resources' section for Amazon ECS deployments" and
"AppSpec 'hooks' section for an Amazon ECS deployment".
"""

from __future__ import annotations

import re
from typing import Any

from gitops_harness.artifacts import formats
from gitops_harness.artifacts.documents import Document, Path_
from gitops_harness.findings import Finding, Severity

TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"
ECS_HOOKS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
TOP_LEVEL_KEYS = ("version", "Resources", "Hooks")
PROPERTY_KEYS = (
    "TaskDefinition",
    "LoadBalancerInfo",
    "PlatformVersion",
    "NetworkConfiguration",
    "CapacityProviderStrategy",
)
_PLATFORM_VERSION = re.compile(r"^(?:LATEST|\d+\.\d+\.\d+)$")
TARGET_SERVICE = ("Resources", 0, "TargetService")


class _Rules:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.findings: list[Finding] = []

    def add(self, path: Path_, rule: str, severity: Severity, message: str) -> None:
        self.findings.append(Finding(self.doc.name, self.doc.where(path), rule, severity, message))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_appspec(doc: Document, taskdef: dict | None) -> list[Finding]:
    """All appspec rules; taskdef (the unwrapped task definition) enables the container/port checks."""
    r = _Rules(doc)
    data = doc.data
    if not isinstance(data, dict):
        r.add(
            (),
            "AS001",
            Severity.ERROR,
            "the AppSpec file must be a mapping with version, Resources and Hooks",
        )
        return r.findings
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            r.add(
                (key,), "AS014", Severity.WARNING, f"unknown top-level key '{key}' is ignored by CodeDeploy"
            )
    version = data.get("version")
    # YAML reads `version: 0.0` as the number 0.0; both spellings are what CodeDeploy expects.
    if not (version == "0.0" or (isinstance(version, float) and version == 0.0)):
        r.add(("version",), "AS002", Severity.ERROR, f"version must be 0.0 (found {version!r})")
    service = _target_service(r, data)
    if service is not None:
        _properties(r, service, taskdef)
    _hooks(r, data.get("Hooks"))
    return r.findings


def _target_service(r: _Rules, data: dict) -> dict | None:
    resources = data.get("Resources")
    if not isinstance(resources, list) or len(resources) != 1:
        found = f"{len(resources)} entries" if isinstance(resources, list) else repr(resources)
        r.add(
            ("Resources",),
            "AS003",
            Severity.ERROR,
            f"Resources must be a list with exactly one TargetService entry (found {found})",
        )
        return None
    entry = resources[0]
    if (
        not isinstance(entry, dict)
        or list(entry) != ["TargetService"]
        or not isinstance(entry["TargetService"], dict)
    ):
        r.add(
            ("Resources", 0),
            "AS004",
            Severity.ERROR,
            "the Resources entry must be a single 'TargetService' mapping with Type and Properties",
        )
        return None
    service = entry["TargetService"]
    if service.get("Type") != "AWS::ECS::Service":
        r.add(
            (*TARGET_SERVICE, "Type"),
            "AS004",
            Severity.ERROR,
            f"TargetService Type must be AWS::ECS::Service (found {service.get('Type')!r})",
        )
    return service


def _properties(r: _Rules, service: dict, taskdef: dict | None) -> None:
    props = service.get("Properties")
    where: Path_ = (*TARGET_SERVICE, "Properties")
    if not isinstance(props, dict):
        r.add(
            where,
            "AS005",
            Severity.ERROR,
            "TargetService needs Properties with TaskDefinition and LoadBalancerInfo",
        )
        return
    for key in props:
        if key not in PROPERTY_KEYS:
            r.add(
                (*where, key), "AS014", Severity.WARNING, f"unknown property '{key}' is ignored by CodeDeploy"
            )
    if props.get("TaskDefinition") != TASK_DEFINITION_PLACEHOLDER:
        r.add(
            (*where, "TaskDefinition"),
            "AS005",
            Severity.ERROR,
            f'TaskDefinition must be exactly "{TASK_DEFINITION_PLACEHOLDER}" so the deploy action fills in the '
            f"task definition it registers (found {props.get('TaskDefinition')!r})",
        )
    _load_balancer(r, props.get("LoadBalancerInfo"), (*where, "LoadBalancerInfo"), taskdef)
    _platform_version(r, props, where)
    _network(r, props, where)
    _capacity(r, props, where)


def container_target(data: Any) -> tuple[Any, Any]:
    """(ContainerName, ContainerPort) of the appspec's TargetService, None where absent."""
    try:
        info = data["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]
        return info.get("ContainerName"), info.get("ContainerPort")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None, None


def _load_balancer(r: _Rules, info: Any, where: Path_, taskdef: dict | None) -> None:
    if not isinstance(info, dict):
        r.add(
            where,
            "AS006",
            Severity.ERROR,
            "LoadBalancerInfo with ContainerName and ContainerPort is required for a blue/green deployment",
        )
        return
    name, port = info.get("ContainerName"), info.get("ContainerPort")
    if not isinstance(name, str) or not name:
        r.add(
            (*where, "ContainerName"),
            "AS006",
            Severity.ERROR,
            "LoadBalancerInfo.ContainerName must be a string",
        )
    if not _is_int(port) or not 1 <= port <= 65535:
        r.add(
            (*where, "ContainerPort"),
            "AS006",
            Severity.ERROR,
            f"LoadBalancerInfo.ContainerPort must be a port number (found {port!r})",
        )
    if taskdef is None or not isinstance(name, str):
        return
    containers = [c for c in taskdef.get("containerDefinitions") or [] if isinstance(c, dict)]
    match = next((c for c in containers if c.get("name") == name), None)
    if match is None:
        names = ", ".join(repr(c.get("name")) for c in containers) or "none"
        r.add(
            (*where, "ContainerName"),
            "AS007",
            Severity.ERROR,
            f"container '{name}' is not in the task definition (containers: {names})",
        )
        return
    mappings = match.get("portMappings") if isinstance(match.get("portMappings"), list) else []
    ports = [pm.get("containerPort") for pm in mappings if isinstance(pm, dict)]
    if _is_int(port) and port not in ports:
        r.add(
            (*where, "ContainerPort"),
            "AS008",
            Severity.ERROR,
            f"container '{name}' has no portMappings entry with containerPort {port} "
            f"(it maps {', '.join(map(str, ports)) or 'no ports'})",
        )


def _platform_version(r: _Rules, props: dict, where: Path_) -> None:
    if "PlatformVersion" in props:
        value = props["PlatformVersion"]
        if not isinstance(value, str) or not _PLATFORM_VERSION.match(value):
            r.add(
                (*where, "PlatformVersion"),
                "AS011",
                Severity.ERROR,
                f"PlatformVersion must be LATEST or a version like 1.4.0 (found {value!r})",
            )


def _network(r: _Rules, props: dict, where: Path_) -> None:
    if "NetworkConfiguration" not in props:
        return
    at: Path_ = (*where, "NetworkConfiguration")
    awsvpc = (
        props["NetworkConfiguration"].get("AwsvpcConfiguration")
        if isinstance(props["NetworkConfiguration"], dict)
        else None
    )
    if not isinstance(awsvpc, dict):
        r.add(at, "AS012", Severity.ERROR, "NetworkConfiguration must contain an AwsvpcConfiguration mapping")
        return
    at = (*at, "AwsvpcConfiguration")
    for key, prefix, required in (("Subnets", "subnet-", True), ("SecurityGroups", "sg-", False)):
        value = awsvpc.get(key)
        if value is None and not required:
            continue
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            r.add(
                (*at, key),
                "AS012",
                Severity.ERROR,
                f"{key} must be a non-empty list of ids like {prefix}0123abcd",
            )
    assign = awsvpc.get("AssignPublicIp")
    if assign is not None and assign not in ("ENABLED", "DISABLED"):
        r.add(
            (*at, "AssignPublicIp"),
            "AS012",
            Severity.ERROR,
            f"AssignPublicIp must be ENABLED or DISABLED (found {assign!r})",
        )


def _capacity(r: _Rules, props: dict, where: Path_) -> None:
    if "CapacityProviderStrategy" not in props:
        return
    at: Path_ = (*where, "CapacityProviderStrategy")
    strategy = props["CapacityProviderStrategy"]
    if not isinstance(strategy, list) or not strategy:
        r.add(at, "AS013", Severity.ERROR, "CapacityProviderStrategy must be a non-empty list")
        return
    for i, item in enumerate(strategy):
        if not isinstance(item, dict) or not isinstance(item.get("CapacityProvider"), str):
            r.add((*at, i), "AS013", Severity.ERROR, "each strategy item needs a CapacityProvider name")
            continue
        for key, top in (("Base", 100000), ("Weight", 1000)):
            if key in item and not (_is_int(item[key]) and 0 <= item[key] <= top):
                r.add(
                    (*at, i, key),
                    "AS013",
                    Severity.ERROR,
                    f"{key} must be an integer 0..{top} (found {item[key]!r})",
                )


def _hooks(r: _Rules, hooks: Any) -> None:
    if hooks is None:
        return
    if not isinstance(hooks, list):
        r.add(
            ("Hooks",),
            "AS009",
            Severity.ERROR,
            "Hooks must be a list of '- HookName: LambdaFunction' entries",
        )
        return
    for i, hook in enumerate(hooks):
        if not isinstance(hook, dict) or len(hook) != 1:
            r.add(
                ("Hooks", i),
                "AS009",
                Severity.ERROR,
                "each Hooks entry must be one 'HookName: LambdaFunction' pair",
            )
            continue
        ((name, target),) = hook.items()
        if name not in ECS_HOOKS:
            r.add(
                ("Hooks", i, name),
                "AS009",
                Severity.ERROR,
                f"'{name}' is not an ECS lifecycle hook; use one of {', '.join(ECS_HOOKS)}",
            )
        if not isinstance(target, str) or not formats.LAMBDA_FUNCTION.match(target):
            r.add(
                ("Hooks", i, name),
                "AS010",
                Severity.ERROR,
                f"hook {name} must name a Lambda function (name or ARN), found {target!r}",
            )
