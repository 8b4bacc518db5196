"""Properties of validate-artifacts: generated valid sets pass, each catalogued mutation is reported with
its rule id, and no input (arbitrary bytes or JSON in any file) crashes the validator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artifact_strategies import PER_MUTATION, PROPERTY, ArtifactSet, deploy_action, json_values, valid_sets
from gitops_harness.artifacts.validate import validate_files
from gitops_harness.errors import InputError
from gitops_harness.findings import Finding, Severity


def run(artifacts: ArtifactSet, with_template: bool = True) -> list[Finding]:
    return validate_files(artifacts.files(), artifacts.template if with_template else None)


def _app(s: ArtifactSet) -> dict:
    name = s.appspec["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]["ContainerName"]
    return next(c for c in s.taskdef["containerDefinitions"] if c["name"] == name)


def _lb(s: ArtifactSet) -> dict:
    return s.appspec["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]


def _props(s: ArtifactSet) -> dict:
    return s.appspec["Resources"][0]["TargetService"]["Properties"]


def _set(path: Callable[[ArtifactSet], dict], key: str, value: Any) -> Callable[[ArtifactSet], None]:
    def mutate(s: ArtifactSet) -> None:
        path(s)[key] = value

    return mutate


def _drop_essential(s: ArtifactSet) -> None:
    for c in s.taskdef["containerDefinitions"]:
        c["essential"] = False


def _rename_in_taskdef(s: ArtifactSet) -> None:
    _app(s)["name"] += "-renamed"


def _port_mismatch(s: ArtifactSet) -> None:
    _lb(s)["ContainerPort"] = _lb(s)["ContainerPort"] % 60000 + 1


def _two_target_services(s: ArtifactSet) -> None:
    s.appspec["Resources"].append(json.loads(json.dumps(s.appspec["Resources"][0])))


def _unknown_hook(s: ArtifactSet) -> None:
    s.appspec["Hooks"] = [*s.appspec.get("Hooks", []), {"BeforeTraffic": "fn"}]


def _describe_dump(s: ArtifactSet) -> None:
    s.taskdef = {"taskDefinition": {**s.taskdef, "revision": 3, "status": "ACTIVE"}}


def _read_only(s: ArtifactSet) -> None:
    s.taskdef.update(
        taskDefinitionArn="arn:aws:ecs:eu-west-1:111122223333:task-definition/x:1",
        revision=1,
        compatibilities=["EC2", "FARGATE"],
        registeredAt="2024-01-01T00:00:00Z",
    )


def _image_placeholder_missing(s: ArtifactSet) -> None:
    _app(s)["image"] = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/app:latest"


def _no_execution_role(s: ArtifactSet) -> None:
    del s.taskdef["executionRoleArn"]


def _no_awslogs_region(s: ArtifactSet) -> None:
    del _app(s)["logConfiguration"]["options"]["awslogs-region"]


def _deploy_config(key: str, value: Any) -> Callable[[ArtifactSet], None]:
    def mutate(s: ArtifactSet) -> None:
        s.deploy_config[key] = value

    return mutate


def _appspec_path_mismatch(s: ArtifactSet) -> None:
    # The classic: the build emits appspec.yml, the action keeps its default appspec.yaml.
    s.appspec_name = "appspec.yml"
    s.deploy_config.pop("AppSpecTemplatePath", None)


def _input_artifact_missing(s: ArtifactSet) -> None:
    deploy_action(s.template)["InputArtifacts"] = [{"Name": "SourceOutput"}]


def _artifact_not_produced(s: ArtifactSet) -> None:
    for key in ("TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact", "Image1ArtifactName"):
        s.deploy_config[key] = "Nowhere"
    deploy_action(s.template)["InputArtifacts"] = [{"Name": "Nowhere"}]


def _target_group_port(s: ArtifactSet) -> None:
    s.template["Resources"]["GreenTargetGroup"]["Properties"]["Port"] = _lb(s)["ContainerPort"] % 60000 + 1


def _buildspec_drops_appspec(s: ArtifactSet) -> None:
    s.buildspec["artifacts"]["files"] = ["taskdef.json", "imageDetail.json"]


def _buildspec_keeps_paths(s: ArtifactSet) -> None:
    s.buildspec["artifacts"] = {"files": ["deploy/*"], "discard-paths": "no"}


def _duplicate_container(s: ArtifactSet) -> None:
    s.taskdef["containerDefinitions"].append(dict(_app(s), image="busybox"))


def _no_image_detail(s: ArtifactSet) -> None:
    s.omit |= {"imageDetail.json", "buildspec.yml"}


def _duplicate_key(s: ArtifactSet) -> None:
    s.extra_files["imageDetail.json"] = b'{"ImageURI": "%s", "ImageURI": "%s"}' % (
        (s.image_detail["ImageURI"].encode(),) * 2
    )


# name -> (mutation, expected rule id, severity, needs the template)
MUTATIONS: dict[str, tuple[Callable[[ArtifactSet], None], str, Severity]] = {
    "drop the only essential container": (_drop_essential, "TD012", Severity.ERROR),
    "rename container in appspec": (
        lambda s: _lb(s).update(ContainerName="renamed"),
        "AS007",
        Severity.ERROR,
    ),
    "rename container in taskdef": (_rename_in_taskdef, "AS007", Severity.ERROR),
    "appspec port not in portMappings": (_port_mismatch, "AS008", Severity.ERROR),
    "appspec version 1.0": (_set(lambda s: s.appspec, "version", "1.0"), "AS002", Severity.ERROR),
    "appspec version 0 (int)": (_set(lambda s: s.appspec, "version", 0), "AS002", Severity.ERROR),
    "two TargetServices": (_two_target_services, "AS003", Severity.ERROR),
    "resource type not ECS": (
        lambda s: s.appspec["Resources"][0]["TargetService"].update(Type="AWS::Lambda::Function"),
        "AS004",
        Severity.ERROR,
    ),
    "TaskDefinition not the placeholder": (
        _set(_props, "TaskDefinition", "arn:aws:ecs:x"),
        "AS005",
        Severity.ERROR,
    ),
    "ContainerPort as text": (_set(_lb, "ContainerPort", "http"), "AS006", Severity.ERROR),
    "unknown hook": (_unknown_hook, "AS009", Severity.ERROR),
    "hook target not a Lambda": (
        lambda s: s.appspec.update(Hooks=[{"BeforeInstall": "not a function!"}]),
        "AS010",
        Severity.ERROR,
    ),
    "bad PlatformVersion": (_set(_props, "PlatformVersion", "v1"), "AS011", Severity.ERROR),
    "bad AssignPublicIp": (
        _set(
            _props,
            "NetworkConfiguration",
            {"AwsvpcConfiguration": {"Subnets": ["subnet-1"], "AssignPublicIp": "YES"}},
        ),
        "AS012",
        Severity.ERROR,
    ),
    "bad capacity weight": (
        _set(_props, "CapacityProviderStrategy", [{"CapacityProvider": "FARGATE", "Weight": -1}]),
        "AS013",
        Severity.ERROR,
    ),
    "bad ECR URI": (
        _set(lambda s: s.image_detail, "ImageURI", "docker.io/library/app:1"),
        "ID004",
        Severity.ERROR,
    ),
    "tag-only image URI": (
        lambda s: s.image_detail.update(
            ImageURI=s.image_detail["ImageURI"].split("@")[0].split(":v1")[0] + ":v1"
        ),
        "ID005",
        Severity.WARNING,
    ),
    "imageDetail without ImageURI": (lambda s: s.image_detail.clear(), "ID002", Severity.ERROR),
    "imageDetail extra key": (_set(lambda s: s.image_detail, "ImageTag", "v1"), "ID003", Severity.WARNING),
    "imageDetail missing in build output": (_no_image_detail, "ID000", Severity.ERROR),
    "placeholder missing from image": (_image_placeholder_missing, "XC001", Severity.ERROR),
    "bad Fargate memory": (_set(lambda s: s.taskdef, "memory", "1536"), "TD010", Severity.ERROR),
    "bad Fargate cpu": (_set(lambda s: s.taskdef, "cpu", "300"), "TD010", Severity.ERROR),
    "bridge network on Fargate": (
        _set(lambda s: s.taskdef, "networkMode", "bridge"),
        "TD011",
        Severity.ERROR,
    ),
    "describe-task-definition read-only fields": (_read_only, "TD003", Severity.ERROR),
    "describe-task-definition wrapper": (_describe_dump, "TD002", Severity.ERROR),
    "bad enum value": (_set(lambda s: s.taskdef, "networkMode", "AWSVPC"), "TD008", Severity.ERROR),
    "bad protocol enum": (
        lambda s: _app(s)["portMappings"][0].update(protocol="http"),
        "TD008",
        Severity.ERROR,
    ),
    "wrong type (cpu as number)": (_set(lambda s: s.taskdef, "cpu", 256), "TD006", Severity.ERROR),
    "wrong type (essential as text)": (lambda s: _app(s).update(essential="yes"), "TD006", Severity.ERROR),
    "unknown field": (_set(lambda s: s.taskdef, "containerDefinition", []), "TD004", Severity.ERROR),
    "missing family": (lambda s: s.taskdef.pop("family"), "TD005", Severity.ERROR),
    "missing execution role": (_no_execution_role, "TD016", Severity.ERROR),
    "awslogs without region": (_no_awslogs_region, "TD015", Severity.ERROR),
    "no log configuration": (lambda s: _app(s).pop("logConfiguration"), "TD014", Severity.WARNING),
    "no health check": (lambda s: _app(s).pop("healthCheck"), "TD017", Severity.WARNING),
    "bad execution role ARN": (
        _set(lambda s: s.taskdef, "executionRoleArn", "ecsTaskExecutionRole"),
        "TD018",
        Severity.ERROR,
    ),
    "duplicate container name": (_duplicate_container, "TD019", Severity.ERROR),
    "hostPort differs on awsvpc": (
        lambda s: _app(s)["portMappings"][0].update(hostPort=1),
        "TD020",
        Severity.ERROR,
    ),
    "AppSpecTemplatePath default vs appspec.yml": (_appspec_path_mismatch, "XC002", Severity.ERROR),
    "TaskDefinitionTemplatePath missing": (
        _deploy_config("TaskDefinitionTemplatePath", "deploy/taskdef.json"),
        "XC003",
        Severity.ERROR,
    ),
    "target group port differs": (_target_group_port, "XC004", Severity.WARNING),
    "deploy input artifact not wired": (_input_artifact_missing, "XC005", Severity.ERROR),
    "artifact produced by no earlier action": (_artifact_not_produced, "XC006", Severity.ERROR),
    "buildspec does not export appspec": (_buildspec_drops_appspec, "XC007", Severity.ERROR),
    "buildspec keeps directories": (_buildspec_keeps_paths, "XC007", Severity.ERROR),
    "duplicate JSON key": (_duplicate_key, "DOC001", Severity.ERROR),
}


@PROPERTY
@given(valid_sets())
def test_valid_sets_pass_with_no_findings(artifacts: ArtifactSet) -> None:
    assert run(artifacts) == []


@PROPERTY
@given(valid_sets())
def test_valid_sets_pass_without_template(artifacts: ArtifactSet) -> None:
    # Without a template the default placeholder <IMAGE1_NAME> is required.
    artifacts.taskdef["containerDefinitions"][0]["image"] = "<IMAGE1_NAME>"
    assert run(artifacts, with_template=False) == []


@pytest.mark.parametrize("name", list(MUTATIONS))
@PER_MUTATION
@given(valid_sets())
def test_mutation_is_reported(name: str, artifacts: ArtifactSet) -> None:
    mutate, rule, severity = MUTATIONS[name]
    mutate(artifacts)
    findings = run(artifacts)
    assert any(f.rule_id == rule and f.severity is severity for f in findings), (name, findings)


FILES = ["taskdef.json", "appspec.yml", "imageDetail.json", "buildspec.yml"]


@PROPERTY
@given(valid_sets(), st.sampled_from(FILES), st.binary(max_size=300), st.booleans())
def test_arbitrary_bytes_never_crash(
    artifacts: ArtifactSet, name: str, content: bytes, template: bool
) -> None:
    artifacts.appspec_name = "appspec.yml"
    artifacts.deploy_config["AppSpecTemplatePath"] = "appspec.yml"
    artifacts.extra_files[name] = content
    try:
        findings = run(artifacts, with_template=template)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(name)
    else:
        assert all(isinstance(f, Finding) for f in findings)


@PROPERTY
@given(valid_sets(), st.sampled_from(FILES), json_values, st.booleans())
def test_arbitrary_json_never_crashes(artifacts: ArtifactSet, name: str, value: Any, template: bool) -> None:
    artifacts.appspec_name = "appspec.yml"
    artifacts.deploy_config["AppSpecTemplatePath"] = "appspec.yml"
    artifacts.extra_files[name] = json.dumps(value).encode()
    try:
        findings = run(artifacts, with_template=template)
    except InputError as exc:
        # Valid JSON can still be invalid YAML (a lone surrogate escape) for the YAML-read files.
        assert "\n" not in str(exc) and str(exc).startswith(name)
    else:
        assert all(isinstance(f, Finding) for f in findings)


@PROPERTY
@given(valid_sets(), json_values, st.sampled_from(["taskdef", "appspec"]))
def test_arbitrary_json_inside_valid_documents_never_crashes(
    artifacts: ArtifactSet, value: Any, where: str
) -> None:
    # Replace one nested value, so the walk reaches deep into otherwise valid structure.
    if where == "taskdef":
        _app(artifacts)["portMappings"] = value
        artifacts.taskdef["runtimePlatform"] = value
    else:
        _props(artifacts)["LoadBalancerInfo"] = value
        artifacts.appspec["Hooks"] = value
    findings = run(artifacts)
    assert all(isinstance(f, Finding) for f in findings)
