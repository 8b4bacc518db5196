"""Rules for taskdef.json, the task definition template the CodeDeployToECS action registers.

The action registers the file with RegisterTaskDefinition after replacing the image placeholder, so the
file must be valid RegisterTaskDefinition input (botocore's shape) and the task it defines must start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gitops_harness.artifacts import formats
from gitops_harness.artifacts.botocore_shape import check_against_shape
from gitops_harness.artifacts.documents import Document, Path_, json_path
from gitops_harness.findings import Finding, Severity

DEFAULT_IMAGE_PLACEHOLDER = "IMAGE1_NAME"

# Fields `aws ecs describe-task-definition` returns that RegisterTaskDefinition rejects.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)

_SHAPE_RULES = {
    "unknown-field": "TD004",
    "missing-field": "TD005",
    "wrong-type": "TD006",
    "below-minimum": "TD007",
    "not-in-enum": "TD008",
}

# Fargate task sizes (ECS developer guide, "Task CPU and memory"): cpu units -> allowed memory MiB.
FARGATE_SIZES: dict[int, frozenset[int]] = {
    256: frozenset((512, 1024, 2048)),
    512: frozenset(range(1024, 4096 + 1, 1024)),
    1024: frozenset(range(2048, 8192 + 1, 1024)),
    2048: frozenset(range(4096, 16384 + 1, 1024)),
    4096: frozenset(range(8192, 30720 + 1, 1024)),
    8192: frozenset(range(16384, 61440 + 1, 4096)),
    16384: frozenset(range(32768, 122880 + 1, 8192)),
}

_SIZE = re.compile(r"^\s*(\d*\.?\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
# ECS accepts up to 255 letters, digits, hyphens and underscores for family and container names.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ANY_PLACEHOLDER = re.compile(r"<[A-Za-z0-9_]+>")


def parse_cpu(value: Any) -> int | None:
    """Task cpu as CPU units: '256', '1 vCPU' and '.25 vcpu' are all accepted by ECS."""
    return _parse_size(value, {"": 1, "vcpu": 1024})


def parse_memory(value: Any) -> int | None:
    """Task memory in MiB: '512', '1GB' and '1 GB' are all accepted by ECS."""
    return _parse_size(value, {"": 1, "gb": 1024, "mib": 1, "mb": 1})


def _parse_size(value: Any, units: dict[str, int]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    match = _SIZE.match(str(value))
    if not match or match.group(2).lower() not in units:
        return None
    amount = float(match.group(1)) * units[match.group(2).lower()]
    return int(amount) if amount.is_integer() else None


def _containers(td: dict) -> list[tuple[int, dict]]:
    defs = td.get("containerDefinitions")
    if not isinstance(defs, list):
        return []
    return [(i, c) for i, c in enumerate(defs) if isinstance(c, dict)]


def is_fargate(td: dict) -> bool:
    compat = td.get("requiresCompatibilities")
    return isinstance(compat, list) and "FARGATE" in compat


class _Rules:
    """Collects findings for one task definition; `base` is where it sits in the file."""

    def __init__(self, doc: Document, td: dict, base: Path_) -> None:
        self.doc, self.td, self.base = doc, td, base
        self.findings: list[Finding] = []

    def add(self, path: Path_, rule: str, severity: Severity, message: str) -> None:
        self.findings.append(Finding(self.doc.name, json_path((*self.base, *path)), rule, severity, message))

    def at(self, relative: str) -> str:
        """A botocore-style relative path ('containerDefinitions[0].image') placed under base."""
        if not self.base:
            return relative or json_path(())
        return f"{json_path(self.base)}.{relative}" if relative else json_path(self.base)


MAX_CONTAINERS = 10  # ECS: container definitions per task definition


def check_taskdef(doc: Document, image_placeholder: str | None = DEFAULT_IMAGE_PLACEHOLDER) -> list[Finding]:
    """All taskdef rules. image_placeholder=None skips TD013 (the template cross-check owns it then)."""
    data = doc.data
    if not isinstance(data, dict):
        return [
            Finding(
                doc.name,
                json_path(()),
                "TD001",
                Severity.ERROR,
                f"the task definition must be a JSON object, not {type(data).__name__}",
            )
        ]
    findings: list[Finding] = []
    base: Path_ = ()
    inner = data.get("taskDefinition")
    if isinstance(inner, dict) and "containerDefinitions" not in data:
        findings.append(
            Finding(
                doc.name,
                "taskDefinition",
                "TD002",
                Severity.ERROR,
                "this is `aws ecs describe-task-definition` output: use the object inside "
                "'taskDefinition' as the file and strip its read-only fields",
            )
        )
        data, base = inner, ("taskDefinition",)
    containers = data.get("containerDefinitions")
    if isinstance(containers, list) and len(containers) > MAX_CONTAINERS:
        # Said once, and nothing else checked: the other rules would repeat it per container.
        findings.append(
            Finding(
                doc.name,
                doc.where((*base, "containerDefinitions")),
                "TD023",
                Severity.ERROR,
                f"{len(containers):,} container definitions; ECS allows at most {MAX_CONTAINERS} per task "
                "definition",
            )
        )
        return findings
    rules = _Rules(doc, data, base)
    _read_only(rules)
    _shape(rules)
    _family(rules)
    _fargate(rules)
    _containers_rules(rules, image_placeholder)
    _roles(rules)
    return findings + rules.findings


def _read_only(r: _Rules) -> None:
    for field in READ_ONLY_FIELDS:
        if field in r.td:
            r.add(
                (field,),
                "TD003",
                Severity.ERROR,
                f"'{field}' is a read-only field of describe-task-definition output; registering fails "
                "with it: strip it from the file",
            )


def _shape(r: _Rules) -> None:
    # Read-only fields already have their own finding; do not report them again as unknown.
    params = {k: v for k, v in r.td.items() if k not in READ_ONLY_FIELDS}
    for problem in check_against_shape(params, "ecs", "RegisterTaskDefinition"):
        r.findings.append(
            Finding(
                r.doc.name,
                r.at(problem.location),
                _SHAPE_RULES[problem.kind],
                Severity.ERROR,
                problem.message,
            )
        )


def _family(r: _Rules) -> None:
    family = r.td.get("family")
    if isinstance(family, str) and not _NAME.match(family):
        r.add(
            ("family",),
            "TD021",
            Severity.ERROR,
            f"family {family!r} is invalid: use 1-255 letters, digits, '-' or '_'",
        )


def _fargate(r: _Rules) -> None:
    if not is_fargate(r.td):
        return
    if r.td.get("networkMode") != "awsvpc":
        r.add(
            ("networkMode",),
            "TD011",
            Severity.ERROR,
            f'Fargate tasks need "networkMode": "awsvpc" (found {r.td.get("networkMode")!r})',
        )
    cpu_raw, mem_raw = r.td.get("cpu"), r.td.get("memory")
    if cpu_raw is None or mem_raw is None:
        missing = " and ".join(n for n, v in (("cpu", cpu_raw), ("memory", mem_raw)) if v is None)
        r.add(
            (),
            "TD010",
            Severity.ERROR,
            f'Fargate tasks need task-level {missing}; add e.g. "cpu": "256", "memory": "512"',
        )
        return
    cpu, mem = parse_cpu(cpu_raw), parse_memory(mem_raw)
    if cpu not in FARGATE_SIZES:
        r.add(
            ("cpu",),
            "TD010",
            Severity.ERROR,
            f"cpu {cpu_raw!r} is not a Fargate size; use one of {', '.join(map(str, FARGATE_SIZES))}",
        )
    elif mem not in FARGATE_SIZES[cpu]:
        allowed = sorted(FARGATE_SIZES[cpu])
        r.add(
            ("memory",),
            "TD010",
            Severity.ERROR,
            f"memory {mem_raw!r} is not valid with cpu {cpu_raw!r} on Fargate; use {allowed[0]}..{allowed[-1]} "
            f"MiB in steps of {allowed[1] - allowed[0] if len(allowed) > 1 else allowed[0]} "
            f"({', '.join(map(str, allowed[:4]))}{', ...' if len(allowed) > 4 else ''})",
        )


def _containers_rules(r: _Rules, image_placeholder: str | None) -> None:
    containers = _containers(r.td)
    if not containers:
        return  # the shape check reports a missing or malformed containerDefinitions
    fargate = is_fargate(r.td)
    if not any(c.get("essential", True) is not False for _, c in containers):
        r.add(
            ("containerDefinitions",),
            "TD012",
            Severity.ERROR,
            'no container is essential: ECS rejects the task definition; set "essential": true on the '
            "main container",
        )
    seen: dict[str, int] = {}
    for i, c in containers:
        name = c.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            r.add(
                ("containerDefinitions", i, "name"),
                "TD021",
                Severity.ERROR,
                f"container name {name!r} is missing or invalid: use 1-255 letters, digits, '-' or '_'",
            )
        if not isinstance(c.get("image"), str) or not c["image"].strip():
            r.add(
                ("containerDefinitions", i, "image"),
                "TD022",
                Severity.ERROR,
                f"container {name!r} has no image; ECS needs one (the app container's is the image placeholder)",
            )
        if isinstance(name, str):
            if name in seen:
                r.add(
                    ("containerDefinitions", i, "name"),
                    "TD019",
                    Severity.ERROR,
                    f"container name '{name}' is already used by containerDefinitions[{seen[name]}]; "
                    "names must be unique",
                )
            seen.setdefault(name, i)
        _logging(r, i, c, fargate)
        if c.get("essential", True) is not False and "healthCheck" not in c:
            r.add(
                ("containerDefinitions", i),
                "TD017",
                Severity.WARNING,
                f"container '{name}' has no healthCheck: ECS cannot replace a hung task; add a "
                "healthCheck command",
            )
        if r.td.get("networkMode") == "awsvpc":
            _awsvpc_ports(r, i, c)
    if image_placeholder is not None and not images_with_placeholder(r.td, image_placeholder):
        r.add(
            ("containerDefinitions",),
            "TD013",
            Severity.ERROR,
            f"no container image contains the placeholder <{image_placeholder}>: the deploy action "
            f'would register the image as written; set "image": "<{image_placeholder}>" on the app '
            "container",
        )


def images_with_placeholder(td: dict, placeholder: str) -> list[int]:
    """Indexes of containers whose image contains <placeholder>."""
    token = f"<{placeholder}>"
    return [i for i, c in _containers(td) if isinstance(c.get("image"), str) and token in c["image"]]


def _logging(r: _Rules, i: int, c: dict, fargate: bool) -> None:
    log = c.get("logConfiguration")
    if log is None:
        r.add(
            ("containerDefinitions", i),
            "TD014",
            Severity.WARNING,
            f"container '{c.get('name')}' has no logConfiguration: its output is lost; configure the "
            "awslogs driver",
        )
        return
    if not isinstance(log, dict) or log.get("logDriver") != "awslogs":
        return
    options = log.get("options")
    options = options if isinstance(options, dict) else {}
    required = ["awslogs-group", "awslogs-region"] + (["awslogs-stream-prefix"] if fargate else [])
    for key in required:
        if not isinstance(options.get(key), str) or not options[key]:
            why = " (required on Fargate)" if key == "awslogs-stream-prefix" else ""
            r.add(
                ("containerDefinitions", i, "logConfiguration", "options"),
                "TD015",
                Severity.ERROR,
                f"awslogs needs the option '{key}'{why}; the container fails to start without it",
            )
    region = options.get("awslogs-region")
    if isinstance(region, str) and region and not formats.is_region(region):
        r.add(
            ("containerDefinitions", i, "logConfiguration", "options", "awslogs-region"),
            "TD015",
            Severity.ERROR,
            f"'{region}' is not an AWS region (e.g. eu-west-1) or a ${{NAME}} placeholder",
        )


def _awsvpc_ports(r: _Rules, i: int, c: dict) -> None:
    ports = c.get("portMappings")
    if not isinstance(ports, list):
        return
    for j, pm in enumerate(ports):
        if not isinstance(pm, dict):
            continue
        host, container = pm.get("hostPort"), pm.get("containerPort")
        if host is not None and container is not None and host != container:
            r.add(
                ("containerDefinitions", i, "portMappings", j, "hostPort"),
                "TD020",
                Severity.ERROR,
                f"with awsvpc networking hostPort must equal containerPort ({container}); remove hostPort",
            )


def _needs_execution_role(td: dict) -> Iterator[str]:
    for _, c in _containers(td):
        image = c.get("image")
        if isinstance(image, str) and (_ANY_PLACEHOLDER.search(image) or formats.ECR_HOST.match(image)):
            yield f"container '{c.get('name')}' pulls its image from ECR"
        log = c.get("logConfiguration")
        if isinstance(log, dict) and log.get("logDriver") == "awslogs":
            yield f"container '{c.get('name')}' logs with awslogs"
        if c.get("secrets") or c.get("repositoryCredentials"):
            yield f"container '{c.get('name')}' reads secrets"


def _roles(r: _Rules) -> None:
    role = r.td.get("executionRoleArn")
    if role is None:
        reasons = list(_needs_execution_role(r.td))
        if reasons:
            # On EC2 the container instance role can stand in; on Fargate nothing can.
            severity = Severity.ERROR if is_fargate(r.td) else Severity.WARNING
            r.add(
                ("executionRoleArn",),
                "TD016",
                severity,
                f"executionRoleArn is missing but {reasons[0]}: add the task execution role's ARN",
            )
    elif isinstance(role, str) and not formats.is_role_arn(role):
        r.add(
            ("executionRoleArn",),
            "TD018",
            Severity.ERROR,
            f"'{role}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>) or a ${{NAME}} placeholder",
        )
    task_role = r.td.get("taskRoleArn")
    if isinstance(task_role, str) and not (
        formats.is_role_arn(task_role) or re.fullmatch(r"[\w+=,.@-]{1,64}", task_role)
    ):
        r.add(
            ("taskRoleArn",),
            "TD018",
            Severity.ERROR,
            f"'{task_role}' is not an IAM role name or ARN, or a ${{NAME}} placeholder",
        )
