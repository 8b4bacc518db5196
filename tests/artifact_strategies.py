"""Hypothesis strategies for deployment artifact sets (taskdef + appspec + imageDetail + buildspec +
pipeline template) that agree with each other, and the settings the artifact property tests share."""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from gitops_harness.artifacts.appspec import ECS_HOOKS
from gitops_harness.artifacts.taskdef import FARGATE_SIZES
from gitops_harness.cfn_template import load_template

FIXTURE_TEMPLATE = Path(__file__).parent / "artifact_fixtures" / "pipeline.yaml"

# Default runs stay quick on shared cores; HYPOTHESIS_PROFILE=ci runs the long version.
for _name, _examples in (("ci", 1000), ("dev", 100)):
    try:
        settings.get_profile(_name)
    except Exception:  # not registered yet (another suite may register its own "ci")
        settings.register_profile(_name, max_examples=_examples, deadline=None)
_CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
PROPERTY = settings(
    max_examples=1000 if _CI else 100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PER_MUTATION = settings(PROPERTY, max_examples=200 if _CI else 10)


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass
class ArtifactSet:
    taskdef: Any
    appspec: Any
    image_detail: Any
    buildspec: Any
    template: dict
    appspec_name: str = "appspec.yml"
    appspec_json: bool = False
    extra_files: dict[str, bytes] = field(default_factory=dict)
    omit: set[str] = field(default_factory=set)

    def copy(self) -> ArtifactSet:
        return copy.deepcopy(self)

    def files(self) -> dict[str, bytes]:
        appspec = (
            json.dumps(self.appspec, indent=2)
            if self.appspec_json
            else yaml.dump(self.appspec, Dumper=_DUMPER, sort_keys=False)
        )
        out = {
            "taskdef.json": json.dumps(self.taskdef, indent=2).encode(),
            self.appspec_name: appspec.encode(),
            "imageDetail.json": json.dumps(self.image_detail).encode(),
            "buildspec.yml": yaml.dump(self.buildspec, Dumper=_DUMPER, sort_keys=False).encode(),
            **self.extra_files,
        }
        return {k: v for k, v in out.items() if k not in self.omit}

    def write(self, directory: Path) -> Path:
        for name, content in self.files().items():
            (directory / name).write_bytes(content)
        return directory

    @property
    def deploy_config(self) -> dict:
        return deploy_action(self.template)["Configuration"]


def deploy_action(template: dict) -> dict:
    return template["Resources"]["Pipeline"]["Properties"]["Stages"][3]["Actions"][0]


@functools.cache
def _fixture_template() -> dict:
    return load_template(FIXTURE_TEMPLATE)


def fixture_template() -> dict:
    """A private copy of the fixture template (parsing it once keeps property tests fast)."""
    return copy.deepcopy(_fixture_template())


names = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)
repositories = st.from_regex(r"[a-z0-9]{1,8}(?:[._/-][a-z0-9]{1,8}){0,2}", fullmatch=True)
placeholders = st.from_regex(r"IMAGE1_[A-Z]{1,8}", fullmatch=True) | st.just("IMAGE1_NAME")
ports = st.integers(1024, 65535)
regions = st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"])
accounts = st.from_regex(r"[0-9]{12}", fullmatch=True)
digests = st.from_regex(r"[a-f0-9]{64}", fullmatch=True)
WRITE_IMAGE_DETAIL = """printf '{"ImageURI":"%s"}' "$REPOSITORY_URI@$IMAGE_DIGEST" > imageDetail.json"""
lambda_names = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)


@st.composite
def fargate_sizes(draw: st.DrawFn) -> tuple[str, str]:
    cpu = draw(st.sampled_from(sorted(FARGATE_SIZES)))
    memory = draw(st.sampled_from(sorted(FARGATE_SIZES[cpu])))
    return str(cpu), str(memory)


def _container(name: str, image: str, port: int | None, region: str, essential: bool) -> dict:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "essential": essential,
        "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 10, "retries": 3},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": "${LOG_GROUP}",
                "awslogs-region": region,
                "awslogs-stream-prefix": name,
            },
        },
    }
    if port is not None:
        container["portMappings"] = [{"containerPort": port, "protocol": "tcp"}]
    return container


@st.composite
def valid_sets(draw: st.DrawFn) -> ArtifactSet:
    """A consistent artifact set plus a pipeline template (the fixture's, adjusted) that deploys it."""
    app, placeholder, port = draw(names), draw(placeholders), draw(ports)
    region = draw(regions | st.just("${AWS_REGION}"))
    cpu, memory = draw(fargate_sizes())
    sidecar_names = draw(st.lists(names.filter(lambda n: n != app), max_size=2, unique=True))
    containers = [_container(app, f"<{placeholder}>", port, region, True)]
    containers += [
        _container(n, "public.ecr.aws/docker/library/busybox:1.36", None, region, draw(st.booleans()))
        for n in sidecar_names
    ]
    taskdef = {
        "family": draw(names),
        "executionRoleArn": draw(
            st.sampled_from(
                ["${TASK_EXECUTION_ROLE_ARN}", "arn:aws:iam::111122223333:role/ecsTaskExecutionRole"]
            )
        ),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": cpu,
        "memory": memory,
        "containerDefinitions": draw(st.permutations(containers)),
    }
    props: dict[str, Any] = {
        "TaskDefinition": "<TASK_DEFINITION>",
        "LoadBalancerInfo": {"ContainerName": app, "ContainerPort": port},
    }
    if draw(st.booleans()):
        props["PlatformVersion"] = draw(st.sampled_from(["LATEST", "1.4.0"]))
    if draw(st.booleans()):
        props["NetworkConfiguration"] = {
            "AwsvpcConfiguration": {
                "Subnets": ["subnet-0123abcd"],
                "SecurityGroups": ["sg-0123abcd"],
                "AssignPublicIp": draw(st.sampled_from(["ENABLED", "DISABLED"])),
            }
        }
    if draw(st.booleans()):
        props["CapacityProviderStrategy"] = [
            {"CapacityProvider": "FARGATE_SPOT", "Base": 0, "Weight": draw(st.integers(0, 1000))}
        ]
    hooks = [{h: draw(lambda_names)} for h in draw(st.lists(st.sampled_from(ECS_HOOKS), unique=True))]
    appspec: dict[str, Any] = {
        "version": draw(st.sampled_from([0.0, "0.0"])),
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}],
    }
    if hooks:
        appspec["Hooks"] = hooks
    uri = f"{draw(accounts)}.dkr.ecr.{draw(regions)}.amazonaws.com/{draw(repositories)}"
    uri += draw(st.sampled_from(["", ":v1"])) + f"@sha256:{draw(digests)}"
    appspec_name = draw(st.sampled_from(["appspec.yml", "appspec.yaml"]))
    discard = draw(st.booleans())
    files = ["**/*"] if draw(st.booleans()) else ["taskdef.json", "imageDetail.json", appspec_name]
    buildspec = {
        "version": 0.2,
        # The build writes imageDetail.json (BS002: a listed file no command writes and the source lacks).
        "phases": {"post_build": {"commands": [WRITE_IMAGE_DETAIL]}},
        "artifacts": {"files": files, **({"discard-paths": "yes"} if discard else {})},
    }

    template = fixture_template()
    config = deploy_action(template)["Configuration"]
    config["Image1ContainerName"] = placeholder
    config["AppSpecTemplatePath"] = appspec_name
    template["Parameters"]["AppPort"]["Default"] = port
    template["Resources"]["GreenTargetGroup"]["Properties"]["Port"] = port
    return ArtifactSet(
        taskdef,
        appspec,
        {"ImageURI": uri},
        buildspec,
        template,
        appspec_name,
        appspec_json=draw(st.booleans()),
    )


# Arbitrary JSON values, for "never crashes" properties.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
