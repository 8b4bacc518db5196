"""The reference pipeline (fixtures/pipeline) lints clean and keeps the contract the harness relies on.

Names cross the account boundary as strings (role ARNs, bucket name, key alias, event bus), so the
cross-template assertions resolve both templates with the same parameters and compare the results.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import lint_file
from cfnlint.config import ManualArgs

from gitops_harness.cfn_template import load_template, properties, resources_of_type

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_DIR = ROOT / "fixtures" / "pipeline"
APP_DIR = ROOT / "fixtures" / "app"
MANAGEMENT_TEMPLATE = PIPELINE_DIR / "management-account.yaml"
PIPELINE_TEMPLATE = PIPELINE_DIR / "pipeline-account.yaml"

MANAGEMENT_ACCOUNT = "111111111111"
PIPELINE_ACCOUNT = "222222222222"
REGION = "eu-west-1"

SOURCE_EVENT_DETAIL = {
    "event": ["referenceCreated", "referenceUpdated"],
    "referenceType": ["branch"],
    "referenceName": ["main"],
}


# ---------------------------------------------------------------- resolving names


class Resolver:
    """Resolves Ref / Fn::Sub / Fn::GetAtt against parameter defaults and pseudo parameters.

    Resources resolve to "<Ref LogicalId>" / "<LogicalId.Attr>" unless they have a well-known name
    property, which is what the cross-account contract is made of.
    """

    NAME_PROPERTIES = ("RoleName", "BucketName", "AliasName", "Name", "FunctionName", "RepositoryName")

    def __init__(self, template: dict[str, Any], account: str, overrides: dict[str, str]) -> None:
        self.template = template
        self.values = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
        self.values.update(overrides)
        self.values.update({"AWS::AccountId": account, "AWS::Region": REGION, "AWS::Partition": "aws"})

    def __call__(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::GetAtt":
                logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
                return f"<{logical_id}.{attribute}>"
        if isinstance(node, dict):
            return {k: self(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self(v) for v in node]
        return node

    def _ref(self, name: str) -> str | None:
        if name == "AWS::NoValue":
            return None
        if name in self.values:
            return self.values[name]
        props = properties(self.template["Resources"][name])
        for key in self.NAME_PROPERTIES:
            if key in props:
                return str(self(props[key]))
        return f"<Ref {name}>"

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self(variables[name]))
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                return f"<{name}>"
            return str(self._ref(name))

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)


def _only(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = list(resources_of_type(template, resource_type))
    assert len(found) == 1, f"expected one {resource_type}, found {[logical_id for logical_id, _ in found]}"
    return properties(found[0][1])


def _statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy_document["Statement"]
    return statements if isinstance(statements, list) else [statements]


@pytest.fixture(scope="module")
def management() -> dict[str, Any]:
    return load_template(MANAGEMENT_TEMPLATE)


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    return load_template(PIPELINE_TEMPLATE)


@pytest.fixture(scope="module")
def resolve_management(management: dict[str, Any]) -> Resolver:
    return Resolver(management, MANAGEMENT_ACCOUNT, {"PipelineAccountId": PIPELINE_ACCOUNT})


@pytest.fixture(scope="module")
def resolve_pipeline(pipeline: dict[str, Any]) -> Resolver:
    return Resolver(pipeline, PIPELINE_ACCOUNT, {"ManagementAccountId": MANAGEMENT_ACCOUNT})


@pytest.fixture(scope="module")
def stages(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {stage["Name"]: stage for stage in _only(pipeline, "AWS::CodePipeline::Pipeline")["Stages"]}


def _single_action(stage: dict[str, Any]) -> dict[str, Any]:
    (action,) = stage["Actions"]
    return action


# ---------------------------------------------------------------- cfn-lint


@pytest.mark.parametrize("template", [MANAGEMENT_TEMPLATE, PIPELINE_TEMPLATE], ids=lambda p: p.name)
def test_cfn_lint_reports_no_errors_or_warnings(template: Path) -> None:
    # us-east-1 is cfn-lint's default; eu-west-1 is the nightly account's region in harness.yaml.
    matches = lint_file(template, config=ManualArgs(regions=["us-east-1", REGION]))
    problems = [f"{m.linenumber}: {m.rule.id} {m.message}" for m in matches if m.rule.id[0] in "EW"]
    assert problems == []


# ---------------------------------------------------------------- pipeline


def test_pipeline_is_v2_superseded_with_cmk_artifact_store(pipeline: dict[str, Any]) -> None:
    props = _only(pipeline, "AWS::CodePipeline::Pipeline")
    assert props["PipelineType"] == "V2"
    assert props["ExecutionMode"] == "SUPERSEDED"
    store = props["ArtifactStore"]
    assert store["EncryptionKey"] == {"Id": {"Fn::GetAtt": ["ArtifactKey", "Arn"]}, "Type": "KMS"}
    key = properties(pipeline["Resources"]["ArtifactKey"])
    assert key["EnableKeyRotation"] is True


def test_stage_order_is_source_build_approve_deploy(pipeline: dict[str, Any]) -> None:
    names = [stage["Name"] for stage in _only(pipeline, "AWS::CodePipeline::Pipeline")["Stages"]]
    assert names == ["Source", "Build", "Approve", "Deploy"]


def test_source_action_runs_in_management_account_without_polling(
    stages: dict[str, dict[str, Any]], resolve_pipeline: Resolver
) -> None:
    action = _single_action(stages["Source"])
    assert action["ActionTypeId"]["Provider"] == "CodeCommit"
    assert resolve_pipeline(action["RoleArn"]).startswith(f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/")
    config = resolve_pipeline(action["Configuration"])
    assert config["PollForSourceChanges"] == "false"
    assert config["BranchName"] == "main"
    assert config["OutputArtifactFormat"] == "CODE_ZIP"
    assert action["OutputArtifacts"] == [{"Name": "SourceOutput"}]


def test_build_and_approval_actions(stages: dict[str, dict[str, Any]]) -> None:
    build = _single_action(stages["Build"])
    assert build["ActionTypeId"]["Provider"] == "CodeBuild"
    assert build["OutputArtifacts"] == [{"Name": "BuildOutput"}]
    approve = _single_action(stages["Approve"])
    assert (approve["ActionTypeId"]["Category"], approve["ActionTypeId"]["Provider"]) == (
        "Approval",
        "Manual",
    )
    assert set(approve["Configuration"]) == {"NotificationArn", "CustomData", "ExternalEntityLink"}


def test_deploy_action_is_codedeploy_to_ecs_with_the_build_output(stages: dict[str, dict[str, Any]]) -> None:
    action = _single_action(stages["Deploy"])
    assert action["ActionTypeId"]["Provider"] == "CodeDeployToECS"
    assert action["InputArtifacts"] == [{"Name": "BuildOutput"}]
    config = dict(action["Configuration"])
    assert config.pop("ApplicationName") == {"Ref": "DeployApplication"}
    assert config.pop("DeploymentGroupName") == {"Ref": "DeploymentGroup"}
    assert config == {
        "TaskDefinitionTemplateArtifact": "BuildOutput",
        "TaskDefinitionTemplatePath": "taskdef.json",
        "AppSpecTemplateArtifact": "BuildOutput",
        "AppSpecTemplatePath": "appspec.yml",
        "Image1ArtifactName": "BuildOutput",
        "Image1ContainerName": "IMAGE1_NAME",
    }


# ---------------------------------------------------------------- blue/green


def test_deployment_group_is_blue_green_with_auto_rollback(
    pipeline: dict[str, Any], resolve_pipeline: Resolver
) -> None:
    group = _only(pipeline, "AWS::CodeDeploy::DeploymentGroup")
    assert group["DeploymentStyle"] == {
        "DeploymentType": "BLUE_GREEN",
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
    }
    assert resolve_pipeline(group["DeploymentConfigName"]) == "CodeDeployDefault.ECSCanary10Percent5Minutes"
    rollback = group["AutoRollbackConfiguration"]
    assert rollback["Enabled"] is True
    assert set(rollback["Events"]) == {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}
    assert group["AlarmConfiguration"]["Enabled"] is True
    (alarm,) = group["AlarmConfiguration"]["Alarms"]
    alarm_props = properties(pipeline["Resources"][alarm["Name"]["Ref"]])
    metric_names = {
        m["MetricStat"]["Metric"]["MetricName"] for m in alarm_props["Metrics"] if "MetricStat" in m
    }
    assert metric_names == {"HTTPCode_Target_5XX_Count"}
    terminate = group["BlueGreenDeploymentConfiguration"]["TerminateBlueInstancesOnDeploymentSuccess"]
    assert terminate["Action"] == "TERMINATE"
    assert terminate["TerminationWaitTimeInMinutes"] == {"Ref": "TerminationWaitMinutes"}
    (pair,) = group["LoadBalancerInfo"]["TargetGroupPairInfoList"]
    assert [tg["Name"]["Fn::GetAtt"][0] for tg in pair["TargetGroups"]] == [
        "BlueTargetGroup",
        "GreenTargetGroup",
    ]
    assert pair["ProdTrafficRoute"]["ListenerArns"] == [{"Ref": "ProductionListener"}]
    assert pair["TestTrafficRoute"]["ListenerArns"] == [{"Ref": "TestListener"}]


def test_target_groups_check_health_on_the_app_port(pipeline: dict[str, Any]) -> None:
    for logical_id in ("BlueTargetGroup", "GreenTargetGroup"):
        props = properties(pipeline["Resources"][logical_id])
        assert (props["Port"], props["TargetType"], props["HealthCheckPath"]) == (8080, "ip", "/health")


def test_service_is_controlled_by_codedeploy_behind_the_alb(pipeline: dict[str, Any]) -> None:
    service = _only(pipeline, "AWS::ECS::Service")
    assert service["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    assert service["LoadBalancers"] == [
        {"ContainerName": "app", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "BlueTargetGroup"}}
    ]


# ---------------------------------------------------------------- source events


def test_pipeline_account_rule_matches_forwarded_branch_events(
    pipeline: dict[str, Any], resolve_pipeline: Resolver
) -> None:
    rule = resolve_pipeline(_only(pipeline, "AWS::Events::Rule"))
    assert rule["EventPattern"] == {
        "source": ["aws.codecommit"],
        "detail-type": ["CodeCommit Repository State Change"],
        "account": [MANAGEMENT_ACCOUNT],
        "resources": [f"arn:aws:codecommit:{REGION}:{MANAGEMENT_ACCOUNT}:gitops-sample"],
        "detail": SOURCE_EVENT_DETAIL,
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == f"arn:aws:codepipeline:{REGION}:{PIPELINE_ACCOUNT}:gitops-sample-pipeline"
    role = properties(pipeline["Resources"][target["RoleArn"].strip("<>").split(".")[0]])
    (statement,) = _statements(role["Policies"][0]["PolicyDocument"])
    assert statement["Action"] == "codepipeline:StartPipelineExecution"
    assert resolve_pipeline(statement["Resource"]) == target["Arn"]


def test_management_rule_forwards_branch_events_to_pipeline_account_bus(
    management: dict[str, Any],
    pipeline: dict[str, Any],
    resolve_management: Resolver,
    resolve_pipeline: Resolver,
) -> None:
    rule = resolve_management(_only(management, "AWS::Events::Rule"))
    assert rule["EventPattern"] == {
        "source": ["aws.codecommit"],
        "detail-type": ["CodeCommit Repository State Change"],
        "resources": ["<Repository.Arn>"],
        "detail": SOURCE_EVENT_DETAIL,
    }
    (target,) = rule["Targets"]
    bus = f"arn:aws:events:{REGION}:{PIPELINE_ACCOUNT}:event-bus/default"
    assert target["Arn"] == bus
    assert "RoleArn" in target
    bus_policy = resolve_pipeline(_only(pipeline, "AWS::Events::EventBusPolicy"))
    assert bus_policy["Statement"]["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"}
    assert bus_policy["Statement"]["Action"] == "events:PutEvents"
    assert bus_policy["Statement"]["Resource"] == bus


# ---------------------------------------------------------------- cross-account names agree


def test_source_role_arn_names_the_management_template_role(
    stages: dict[str, dict[str, Any]],
    management: dict[str, Any],
    resolve_pipeline: Resolver,
    resolve_management: Resolver,
) -> None:
    role_name = resolve_management(properties(management["Resources"]["CrossAccountSourceRole"])["RoleName"])
    expected = f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/{role_name}"
    assert resolve_pipeline(_single_action(stages["Source"])["RoleArn"]) == expected


def test_trust_condition_names_exactly_the_pipeline_role(
    management: dict[str, Any],
    pipeline: dict[str, Any],
    resolve_management: Resolver,
    resolve_pipeline: Resolver,
) -> None:
    pipeline_role_name = resolve_pipeline(properties(pipeline["Resources"]["PipelineRole"])["RoleName"])
    pipeline_props = _only(pipeline, "AWS::CodePipeline::Pipeline")
    assert pipeline_props["RoleArn"] == {"Fn::GetAtt": ["PipelineRole", "Arn"]}
    trust = resolve_management(
        properties(management["Resources"]["CrossAccountSourceRole"])["AssumeRolePolicyDocument"]
    )
    (statement,) = _statements(trust)
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{PIPELINE_ACCOUNT}:root"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/{pipeline_role_name}"}
    }


def test_source_role_reaches_the_artifact_bucket_and_key_by_their_pipeline_names(
    management: dict[str, Any],
    pipeline: dict[str, Any],
    resolve_management: Resolver,
    resolve_pipeline: Resolver,
) -> None:
    bucket = resolve_pipeline(properties(pipeline["Resources"]["ArtifactBucket"])["BucketName"])
    alias = resolve_pipeline(properties(pipeline["Resources"]["ArtifactKeyAlias"])["AliasName"])
    role = resolve_management(properties(management["Resources"]["CrossAccountSourceRole"]))
    statements = {s["Sid"]: s for s in _statements(role["Policies"][0]["PolicyDocument"])}
    assert statements["WriteSourceArtifacts"]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert statements["UseTheArtifactKey"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}
    }
    assert statements["ReadTheRepository"]["Resource"] == "<Repository.Arn>"


def test_pipeline_side_grants_name_the_management_source_role(
    pipeline: dict[str, Any],
    management: dict[str, Any],
    resolve_pipeline: Resolver,
    resolve_management: Resolver,
) -> None:
    role_name = resolve_management(properties(management["Resources"]["CrossAccountSourceRole"])["RoleName"])
    condition = {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/{role_name}"}}
    key_policy = resolve_pipeline(properties(pipeline["Resources"]["ArtifactKey"])["KeyPolicy"])
    bucket_policy = resolve_pipeline(
        properties(pipeline["Resources"]["ArtifactBucketPolicy"])["PolicyDocument"]
    )
    for document in (key_policy, bucket_policy):
        grants = [
            s
            for s in _statements(document)
            if s["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"}
        ]
        assert len(grants) == 1 and grants[0]["Condition"] == condition


def test_mirror_user_may_only_pull_and_push_the_repository(management: dict[str, Any]) -> None:
    group = _only(management, "AWS::IAM::Group")
    (policy,) = group["Policies"]
    (statement,) = _statements(policy["PolicyDocument"])
    assert set(statement["Action"]) == {"codecommit:GitPull", "codecommit:GitPush"}
    assert statement["Resource"] == {"Fn::GetAtt": ["Repository", "Arn"]}
    user = _only(management, "AWS::IAM::User")
    assert set(user) == {"UserName", "Groups"}


# ---------------------------------------------------------------- notifications


def test_notification_rules_cover_build_approval_and_deployment(pipeline: dict[str, Any]) -> None:
    event_ids = {
        event_id
        for _, rule in resources_of_type(pipeline, "AWS::CodeStarNotifications::NotificationRule")
        for event_id in properties(rule)["EventTypeIds"]
    }
    assert event_ids == {
        "codebuild-project-build-state-succeeded",
        "codebuild-project-build-state-failed",
        "codepipeline-pipeline-manual-approval-needed",
        "codedeploy-application-deployment-succeeded",
        "codedeploy-application-deployment-failed",
    }
    (statement,) = _statements(_only(pipeline, "AWS::SNS::TopicPolicy")["PolicyDocument"])
    assert statement["Principal"] == {"Service": "codestar-notifications.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


# ---------------------------------------------------------------- fixtures/app agrees with the template


def test_appspec_hook_is_the_chat_notifier_function(
    pipeline: dict[str, Any], resolve_pipeline: Resolver
) -> None:
    appspec = yaml.safe_load((APP_DIR / "appspec.yml").read_text(encoding="utf-8"))
    (hook,) = appspec["Hooks"]
    function_name = resolve_pipeline(_only(pipeline, "AWS::Lambda::Function")["FunctionName"])
    assert hook == {"AfterAllowTraffic": function_name}
    target = appspec["Resources"][0]["TargetService"]["Properties"]
    assert target["LoadBalancerInfo"] == {"ContainerName": "app", "ContainerPort": 8080}


def test_taskdef_family_and_container_match_the_initial_task_definition(
    pipeline: dict[str, Any], resolve_pipeline: Resolver
) -> None:
    taskdef = json.loads((APP_DIR / "taskdef.json").read_text(encoding="utf-8"))
    initial = _only(pipeline, "AWS::ECS::TaskDefinition")
    assert taskdef["family"] == resolve_pipeline(initial["Family"])
    (container,) = taskdef["containerDefinitions"]
    (initial_container,) = initial["ContainerDefinitions"]
    assert container["name"] == initial_container["Name"] == "app"
    assert (
        container["portMappings"][0]["containerPort"] == initial_container["PortMappings"][0]["ContainerPort"]
    )


def test_codebuild_provides_every_taskdef_placeholder(pipeline: dict[str, Any]) -> None:
    placeholders = set(
        re.findall(r"\$\{([A-Z0-9_]+)\}", (APP_DIR / "taskdef.json").read_text(encoding="utf-8"))
    )
    environment = {
        v["Name"] for v in _only(pipeline, "AWS::CodeBuild::Project")["Environment"]["EnvironmentVariables"]
    }
    # CodeBuild sets AWS_REGION in every build itself.
    assert placeholders - {"AWS_REGION"} <= environment
    assert "AWS_REGION" in placeholders


# ---------------------------------------------------------------- the buildspec's render step, run for real


def _render_commands() -> Iterator[str]:
    buildspec = yaml.safe_load((APP_DIR / "buildspec.yml").read_text(encoding="utf-8"))
    for command in buildspec["phases"]["post_build"]["commands"]:
        if "taskdef.json" in command:
            yield command


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sed") is None, reason="needs bash and sed")
def test_buildspec_renders_taskdef_placeholders_and_keeps_image1_name(tmp_path: Path) -> None:
    shutil.copy(APP_DIR / "taskdef.json", tmp_path / "taskdef.json")
    env = {
        "PATH": "/usr/bin:/bin",
        "TASK_EXECUTION_ROLE_ARN": f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/gitops-sample-task-execution",
        "TASK_ROLE_ARN": f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/gitops-sample-task",
        "AWS_REGION": REGION,
        "LOG_GROUP": "/ecs/gitops-sample",
    }
    script = "\n".join(["set -e", *_render_commands()])
    subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, check=True, timeout=30)
    rendered = json.loads((tmp_path / "taskdef.json").read_text(encoding="utf-8"))
    assert rendered["executionRoleArn"] == env["TASK_EXECUTION_ROLE_ARN"]
    assert rendered["taskRoleArn"] == env["TASK_ROLE_ARN"]
    (container,) = rendered["containerDefinitions"]
    assert container["image"] == "<IMAGE1_NAME>"
    assert container["logConfiguration"]["options"]["awslogs-group"] == env["LOG_GROUP"]
    assert container["logConfiguration"]["options"]["awslogs-region"] == REGION


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("sed") is None, reason="needs bash and sed")
def test_buildspec_render_fails_when_a_placeholder_stays_unfilled(tmp_path: Path) -> None:
    (tmp_path / "taskdef.json").write_text('{"taskRoleArn": "${SOMETHING_ELSE}"}', encoding="utf-8")
    script = "\n".join(["set -e", *_render_commands()])
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, timeout=30)
    assert result.returncode != 0


def test_chat_notifier_may_report_hook_status_to_the_deployment_group(
    pipeline: dict[str, Any], resolve_pipeline: Resolver
) -> None:
    # Written out by name in the template (a reference would close a dependency cycle), so pin it here.
    application = resolve_pipeline(properties(pipeline["Resources"]["DeployApplication"])["ApplicationName"])
    group = resolve_pipeline(properties(pipeline["Resources"]["DeploymentGroup"])["DeploymentGroupName"])
    role = resolve_pipeline(properties(pipeline["Resources"]["ChatNotifierRole"]))
    statements = {
        s.get("Sid"): s for s in _statements(role["Policies"][0]["PolicyDocument"]) if isinstance(s, dict)
    }
    hook = statements["LifecycleHookStatus"]
    assert hook["Action"] == "codedeploy:PutLifecycleEventHookExecutionStatus"
    assert (
        hook["Resource"]
        == f"arn:aws:codedeploy:{REGION}:{PIPELINE_ACCOUNT}:deploymentgroup:{application}/{group}"
    )
