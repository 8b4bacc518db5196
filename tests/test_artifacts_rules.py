"""One test (or a few) per artifact rule, on small hand-written documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gitops_harness.artifacts.appspec import check_appspec
from gitops_harness.artifacts.documents import Document, parse_json, parse_json_or_yaml, parse_yaml
from gitops_harness.artifacts.image_detail import check_image_detail
from gitops_harness.artifacts.taskdef import check_taskdef, parse_cpu, parse_memory
from gitops_harness.artifacts.validate import validate_documents, validate_files
from gitops_harness.errors import InputError
from gitops_harness.findings import Finding, Severity

TASKDEF: dict[str, Any] = {
    "family": "sample",
    "executionRoleArn": "${TASK_EXECUTION_ROLE_ARN}",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "<IMAGE1_NAME>",
            "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "healthCheck": {"command": ["CMD-SHELL", "true"]},
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "${LOG_GROUP}",
                    "awslogs-region": "${AWS_REGION}",
                    "awslogs-stream-prefix": "app",
                },
            },
        }
    ],
}

APPSPEC_YAML = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo:
          ContainerName: app
          ContainerPort: 8080
Hooks:
  - AfterAllowTraffic: chat-notifier
"""


def taskdef(**changes: Any) -> dict:
    td = copy.deepcopy(TASKDEF)
    td.update(changes)
    return td


def td_findings(td: Any, placeholder: str | None = "IMAGE1_NAME") -> list[Finding]:
    return check_taskdef(Document("taskdef.json", td), placeholder)


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


def only(findings: list[Finding], rule: str) -> Finding:
    hits = [f for f in findings if f.rule_id == rule]
    assert len(hits) == 1, findings
    return hits[0]


# --- taskdef -------------------------------------------------------------------------------------


def test_reference_like_taskdef_is_clean() -> None:
    assert td_findings(taskdef()) == []


def test_td001_not_an_object() -> None:
    assert rules(td_findings([TASKDEF])) == {"TD001"}


def test_td002_describe_dump_is_explained_and_inner_checked() -> None:
    findings = td_findings({"taskDefinition": taskdef(revision=4), "tags": []})
    assert only(findings, "TD002").location == "taskDefinition"
    assert only(findings, "TD003").location == "taskDefinition.revision"


@pytest.mark.parametrize(
    "field",
    [
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    ],
)
def test_td003_read_only_fields_are_errors_not_unknown(field: str) -> None:
    findings = td_findings(taskdef(**{field: "x"}))
    f = only(findings, "TD003")
    assert f.location == field and "strip" in f.message and f.severity is Severity.ERROR
    assert "TD004" not in rules(findings)


def test_td004_unknown_field_suggests_spelling() -> None:
    td = taskdef()
    td["containerDefinitions"][0]["portMapping"] = []
    f = only(td_findings(td), "TD004")
    assert f.location == "containerDefinitions[0].portMapping" and "portMappings" in f.message


def test_td005_missing_required() -> None:
    td = taskdef()
    del td["family"]
    assert only(td_findings(td), "TD005").location == "family"


def test_td006_wrong_type_from_botocore_shape_with_json_path() -> None:
    td = taskdef()
    td["containerDefinitions"][0]["portMappings"].append({"containerPort": "8081"})
    f = only(td_findings(td), "TD006")
    assert f.location == "containerDefinitions[0].portMappings[1].containerPort"
    assert "a string given" in f.message and "an integer" in f.message


def test_td006_boolean_where_number_expected() -> None:
    td = taskdef()
    td["containerDefinitions"][0]["memoryReservation"] = True
    assert only(td_findings(td), "TD006").location == "containerDefinitions[0].memoryReservation"


def test_td007_below_minimum() -> None:
    assert only(td_findings(taskdef(tags=[{"key": "", "value": "x"}])), "TD007").location == "tags[0].key"


def test_td021_td022_names_and_image() -> None:
    td = taskdef(family="my family")
    del td["containerDefinitions"][0]["name"]  # botocore's model does not require it; ECS does
    td["containerDefinitions"][0]["image"] = ""
    findings = td_findings(td, placeholder=None)
    assert sorted(f.location for f in findings if f.rule_id == "TD021") == [
        "containerDefinitions[0].name",
        "family",
    ]
    assert only(findings, "TD022").location == "containerDefinitions[0].image"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("networkMode",), "vpc"),
        (("requiresCompatibilities", 0), "LAMBDA"),
        (("containerDefinitions", 0, "portMappings", 0, "protocol"), "TCP"),
        (("containerDefinitions", 0, "logConfiguration", "logDriver"), "cloudwatch"),
    ],
)
def test_td008_enum_values_checked(path: tuple, value: str) -> None:
    td = taskdef()
    node: Any = td
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    f = only(td_findings(td), "TD008")
    assert value in f.message


@pytest.mark.parametrize(
    ("cpu", "memory", "ok"),
    [
        ("256", "512", True),
        ("256", "4096", False),
        ("512", "4096", True),
        ("1 vCPU", "2 GB", True),
        (".25 vCPU", "0.5GB", True),
        ("1024", "1024", False),
        ("8192", "20480", True),
        ("8192", "17408", False),
        ("16384", "122880", True),
        ("300", "1024", False),
        ("4096", "30720", True),
        ("4096", "31744", False),
    ],
)
def test_td010_fargate_sizes(cpu: str, memory: str, ok: bool) -> None:
    assert ("TD010" not in rules(td_findings(taskdef(cpu=cpu, memory=memory)))) is ok


def test_td010_fargate_needs_cpu_and_memory() -> None:
    td = taskdef()
    del td["memory"]
    assert "memory" in only(td_findings(td), "TD010").message


def test_size_parsers() -> None:
    assert parse_cpu("2 vCPU") == 2048 and parse_cpu(512) == 512 and parse_cpu("x") is None
    assert parse_memory("3 GB") == 3072 and parse_memory(True) is None


def test_td011_fargate_needs_awsvpc() -> None:
    assert only(td_findings(taskdef(networkMode="bridge")), "TD011").location == "networkMode"


def test_ec2_task_has_no_fargate_rules() -> None:
    td = taskdef(requiresCompatibilities=["EC2"], networkMode="bridge", cpu="300")
    assert not rules(td_findings(td)) & {"TD010", "TD011"}


def test_td012_no_essential_container() -> None:
    td = taskdef()
    td["containerDefinitions"][0]["essential"] = False
    assert only(td_findings(td), "TD012").severity is Severity.ERROR


def test_td012_essential_defaults_to_true() -> None:
    td = taskdef()
    del td["containerDefinitions"][0]["essential"]
    assert "TD012" not in rules(td_findings(td))


def test_td013_placeholder_missing_only_without_template() -> None:
    td = taskdef()
    td["containerDefinitions"][0]["image"] = "nginx"
    assert "TD013" in rules(td_findings(td))
    assert "TD013" not in rules(td_findings(td, placeholder=None))


def test_td014_td017_logging_and_health_check_are_warnings() -> None:
    td = taskdef()
    del td["containerDefinitions"][0]["logConfiguration"]
    del td["containerDefinitions"][0]["healthCheck"]
    findings = td_findings(td)
    assert only(findings, "TD014").severity is Severity.WARNING
    assert only(findings, "TD017").severity is Severity.WARNING


@pytest.mark.parametrize(
    ("option", "value"),
    [("awslogs-group", None), ("awslogs-stream-prefix", None), ("awslogs-region", "europe")],
)
def test_td015_awslogs_options(option: str, value: str | None) -> None:
    td = taskdef()
    options = td["containerDefinitions"][0]["logConfiguration"]["options"]
    if value is None:
        del options[option]
    else:
        options[option] = value
    assert option in only(td_findings(td), "TD015").message or value in only(td_findings(td), "TD015").message


def test_td016_execution_role_needed_for_ecr_image_and_awslogs() -> None:
    td = taskdef()
    del td["executionRoleArn"]
    assert only(td_findings(td), "TD016").severity is Severity.ERROR
    ec2 = taskdef(requiresCompatibilities=["EC2"])
    del ec2["executionRoleArn"]
    assert only(td_findings(ec2), "TD016").severity is Severity.WARNING


@pytest.mark.parametrize(
    "arn", ["arn:aws:iam::111122223333:role/x", "${ROLE}", "arn:aws-cn:iam::111122223333:role/a/b"]
)
def test_td018_role_arns_and_placeholders_accepted(arn: str) -> None:
    assert td_findings(taskdef(executionRoleArn=arn, taskRoleArn=arn)) == []


def test_td018_bad_role_arn() -> None:
    assert (
        only(td_findings(taskdef(executionRoleArn="arn:aws:iam::1:user/x")), "TD018").location
        == "executionRoleArn"
    )


def test_td019_duplicate_container_names() -> None:
    td = taskdef()
    td["containerDefinitions"].append(copy.deepcopy(td["containerDefinitions"][0]))
    assert only(td_findings(td), "TD019").location == "containerDefinitions[1].name"


def test_td020_awsvpc_host_port() -> None:
    td = taskdef()
    td["containerDefinitions"][0]["portMappings"][0]["hostPort"] = 80
    assert only(td_findings(td), "TD020").location == "containerDefinitions[0].portMappings[0].hostPort"


# --- appspec ---------------------------------------------------------------------------------------


def as_findings(text: str, td: dict | None = None) -> list[Finding]:
    return check_appspec(parse_json_or_yaml("appspec.yml", text), td if td is not None else taskdef())


def test_appspec_clean_and_version_spellings() -> None:
    assert as_findings(APPSPEC_YAML) == []
    assert as_findings(APPSPEC_YAML.replace("version: 0.0", 'version: "0.0"')) == []


@pytest.mark.parametrize("version", ["0", "1.0", '"0"', "'0.00'", "null"])
def test_as002_version(version: str) -> None:
    f = only(as_findings(APPSPEC_YAML.replace("version: 0.0", f"version: {version}")), "AS002")
    assert f.location == "line 1"


def test_as001_not_a_mapping() -> None:
    assert rules(as_findings("- a\n")) == {"AS001"}


def test_as003_two_target_services_with_line() -> None:
    doubled = APPSPEC_YAML.replace("Hooks:", "  - TargetService:\n      Type: AWS::ECS::Service\nHooks:")
    assert only(as_findings(doubled), "AS003").location == "line 2"


def test_as004_as005_type_and_task_definition() -> None:
    text = APPSPEC_YAML.replace("AWS::ECS::Service", "AWS::Lambda::Function").replace(
        "<TASK_DEFINITION>", "arn:aws:ecs:x"
    )
    findings = as_findings(text)
    assert only(findings, "AS004").location == "line 4"
    assert only(findings, "AS005").location == "line 6"


def test_as006_as007_as008_container_and_port() -> None:
    assert (
        only(
            as_findings(APPSPEC_YAML.replace("ContainerPort: 8080", "ContainerPort: '8080'")), "AS006"
        ).location
        == "line 9"
    )
    assert (
        only(as_findings(APPSPEC_YAML.replace("ContainerName: app", "ContainerName: web")), "AS007").location
        == "line 8"
    )
    assert only(as_findings(APPSPEC_YAML.replace("8080", "80")), "AS008").location == "line 9"


def test_as009_as010_hooks() -> None:
    findings = as_findings(
        APPSPEC_YAML.replace(
            "AfterAllowTraffic: chat-notifier", "ValidateService: fn\n  - BeforeInstall: [x]"
        )
    )
    assert only(findings, "AS009").location == "line 11"
    assert only(findings, "AS010").location == "line 12"


@pytest.mark.parametrize(
    "target",
    [
        "fn",
        "arn:aws:lambda:eu-west-1:111122223333:function:fn",
        "arn:aws:lambda:eu-west-1:111122223333:function:fn:live",
    ],
)
def test_hook_targets_accepted(target: str) -> None:
    assert as_findings(APPSPEC_YAML.replace("chat-notifier", target)) == []


def test_as011_as012_as013_optional_properties() -> None:
    extra = (
        "        PlatformVersion: 1.4\n"
        "        NetworkConfiguration:\n          AwsvpcConfiguration:\n            Subnets: []\n"
        "        CapacityProviderStrategy:\n          - CapacityProvider: FARGATE\n            Weight: 5000\n"
    )
    findings = as_findings(APPSPEC_YAML.replace("Hooks:", extra + "Hooks:"))
    assert {"AS011", "AS012", "AS013"} <= rules(findings)


def test_as014_unknown_property_warning() -> None:
    f = only(
        as_findings(
            APPSPEC_YAML.replace(
                "        LoadBalancerInfo:", "        LoadBalancer: x\n        LoadBalancerInfo:"
            )
        ),
        "AS014",
    )
    assert f.severity is Severity.WARNING and f.location == "line 7"


def test_appspec_json_uses_json_paths() -> None:
    text = (
        '{"version": "0.0", "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": '
        '{"TaskDefinition": "<TASK_DEFINITION>", "LoadBalancerInfo": {"ContainerName": "app", '
        '"ContainerPort": 81}}}}]}'
    )
    f = only(as_findings(text), "AS008")
    assert f.location == "Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort"


# --- imageDetail -----------------------------------------------------------------------------------

DIGEST = "a" * 64


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        (f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:{DIGEST}", None),
        (f"111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/team/app:v1@sha256:{DIGEST}", None),
        ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/app:v1", "ID005"),
        ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/app", "ID004"),
        (f"11112222333.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:{DIGEST}", "ID004"),
        (f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/App@sha256:{DIGEST}", "ID004"),
        ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:abc", "ID004"),
        ("docker.io/library/nginx:1", "ID004"),
        (42, "ID004"),
    ],
)
def test_image_uri(uri: Any, rule: str | None) -> None:
    findings = check_image_detail(Document("imageDetail.json", {"ImageURI": uri}))
    assert rules(findings) == ({rule} if rule else set())


def test_id001_id002_id003() -> None:
    assert rules(check_image_detail(Document("i", ["x"]))) == {"ID001"}
    assert rules(check_image_detail(Document("i", {}))) == {"ID002"}
    uri = f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:{DIGEST}"
    assert rules(check_image_detail(Document("i", {"ImageURI": uri, "name": "app"}))) == {"ID003"}


# --- documents and missing files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "text", "line"),
    [
        (parse_json, '{\n "a": 1,\n}', 3),
        (parse_yaml, "a: 1\nb: [\n", 3),
        (parse_yaml, "a: 1\n  b: 2\n", 2),
    ],
)
def test_unparseable_input_names_file_and_line(parse: Any, text: str, line: int) -> None:
    with pytest.raises(InputError, match=rf"^x\.doc:{line}: cannot parse") as err:
        parse("x.doc", text)
    assert "\n" not in str(err.value)


def test_doc001_duplicate_keys() -> None:
    findings = validate_files(
        {
            "taskdef.json": b'{"family": "a", "family": "b"}',
            "appspec.yml": APPSPEC_YAML + "version: 0.0\n",
            "buildspec.yml": b"version: 0.2",
        }
    )
    dup = sorted(f.location for f in findings if f.rule_id == "DOC001")
    assert dup == ["family", "line 12"]


def test_missing_files_in_build_output_and_source_dir() -> None:
    assert rules(validate_documents({})) == {"TD000", "AS000", "ID000"}
    # A source directory (with buildspec.yml) may lack imageDetail.json: the build writes it.
    assert rules(validate_documents({"buildspec.yml": {"version": 0.2, "phases": {}}})) == {"TD000", "AS000"}
    assert "ID000" in rules(validate_documents({"buildspec.yml": {}}, build_output=True))


def test_validate_documents_accepts_plain_values() -> None:
    import yaml

    findings = validate_documents(
        {
            "taskdef.json": taskdef(),
            "appspec.yaml": yaml.safe_load(APPSPEC_YAML),
            "imageDetail.json": {"ImageURI": "bad"},
        }
    )
    assert [(f.file, f.rule_id) for f in findings] == [("imageDetail.json", "ID004")]
