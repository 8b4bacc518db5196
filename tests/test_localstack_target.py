"""The localstack target and the plugin in localstack/: against LocalStack community 4.14.0 in host mode
(the Makefile's .venv-localstack; `make test-localstack` builds it), and the compose file against the
compose-spec schema. Without that venv the LocalStack tests skip with the reason (`make test` does not
build it: see README, LocalStack)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from gitops_harness.config import load_config
from gitops_harness.stacks import delete_stack, deploy_stack, pipeline_specs
from gitops_harness.targets.localstack import LocalStackTarget, template_types
from gitops_harness.targets.localstack_host import HostLocalStack
from localstack_started import started_localstack

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "fixtures" / "pipeline").glob("*-account.yaml"))


# -- the compose file ----------------------------------------------------------------------------------


def _compose_validator() -> jsonschema.protocols.Validator:
    # compose-spec/compose-spec's schema as check-jsonschema vendors it (vendor/compose-spec.json,
    # licence in vendor/licenses/LICENSE.compose-spec)
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(vendored.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_compose_file_validates_against_the_compose_spec() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    errors = [e.message for e in _compose_validator().iter_errors(compose)]
    assert errors == []
    volumes = compose["services"]["localstack"]["volumes"]
    assert "./localstack/init/boot.d:/etc/localstack/init/boot.d:ro" in volumes  # the plugin's install hook
    assert (ROOT / "localstack/init/boot.d/10-install-gitops-plugin.sh").stat().st_mode & 0o111


def test_the_compose_schema_check_can_fail() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose["services"]["localstack"]["ports"] = {"not": "a list"}
    assert list(_compose_validator().iter_errors(compose))


# -- without the plugin: which reference types LocalStack lacks, said up front -------------------------


def test_without_the_plugin_the_missing_types_are_those_of_services_localstack_lacks() -> None:
    target = LocalStackTarget(templates=TEMPLATES)
    target.plugin = None
    community = {
        "cloudformation",
        "s3",
        "iam",
        "sns",
        "sqs",
        "events",
        "ec2",
        "kms",
        "logs",
        "lambda",
        "cloudwatch",
    }
    missing = target._missing_types(community)
    assert "AWS::CodePipeline::Pipeline" in missing and "AWS::ECS::Service" in missing
    assert (
        "AWS::ElasticLoadBalancingV2::LoadBalancer" in missing
        and "AWS::CodeStarNotifications::NotificationRule" in missing
    )
    assert "AWS::S3::Bucket" not in missing and "AWS::IAM::Role" not in missing
    assert set(missing) <= template_types(TEMPLATES)


# -- LocalStack 4.14.0 in host mode with the plugin ----------------------------------------------------


@pytest.fixture(scope="module")
def localstack() -> Any:
    yield from started_localstack()


def _client(host: HostLocalStack, service: str, account: str = "111111111111") -> Any:
    return boto3.client(
        service,
        endpoint_url=host.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=account,
        aws_secret_access_key="test",
    )


def _json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - our LocalStack
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_localstack_starts_in_host_mode_and_names_the_plugin_providers(localstack: HostLocalStack) -> None:
    assert localstack.start_seconds is not None and localstack.start_seconds < 30
    health = _json(f"{localstack.endpoint_url}/_localstack/health")
    assert health["version"] == "4.14.0"
    for service in ("codepipeline", "codecommit", "codebuild", "codedeploy", "codestar-notifications"):
        assert health["services"][service] in ("available", "running")
    plugin = _json(f"{localstack.endpoint_url}/_gitops/health")
    assert plugin["plugin"] == "gitops-harness-localstack" and plugin["localstack_version"] == "4.14.0"
    assert plugin["harness_version"]
    assert "StartPipelineExecution" in plugin["providers"]["codepipeline"]["operations"]
    assert plugin["providers"]["codecommit"]["configured_provider"] == "default"
    assert "AWS::CodePipeline::Pipeline" in plugin["cloudformation_types"]


def test_codecommit_and_codepipeline_answer_through_the_adapter(localstack: HostLocalStack) -> None:
    codecommit = _client(localstack, "codecommit")
    made = codecommit.create_repository(repositoryName="adapter-check")["repositoryMetadata"]
    assert made["Arn"] == "arn:aws:codecommit:us-east-1:111111111111:adapter-check"
    assert (
        codecommit.get_repository(repositoryName="adapter-check")["repositoryMetadata"]["repositoryId"]
        == made["repositoryId"]
    )
    # the account comes from the access key: another account does not see it
    with pytest.raises(ClientError) as other:
        _client(localstack, "codecommit", "333333333333").get_repository(repositoryName="adapter-check")
    assert other.value.response["Error"]["Code"] == "RepositoryDoesNotExistException"
    # botocore's model constraints, checked by the adapter before the plane (CodeCommit's own code)
    unchecked = boto3.client(
        "codecommit",
        endpoint_url=localstack.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="111111111111",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False),  # what the service, not the SDK, answers
    )
    with pytest.raises(ClientError) as invalid:
        unchecked.create_repository(repositoryName="")
    assert invalid.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    codepipeline = _client(localstack, "codepipeline", "222222222222")
    assert codepipeline.list_pipelines()["pipelines"] == []
    with pytest.raises(ClientError) as missing:
        codepipeline.get_pipeline(name="nope")
    assert missing.value.response["Error"]["Code"] == "PipelineNotFoundException"


def test_git_smart_http_is_served_on_localstacks_router(localstack: HostLocalStack) -> None:
    url = f"{localstack.endpoint_url}/v1/repos/adapter-check/info/refs?service=git-upload-pack"
    with pytest.raises(urllib.error.HTTPError) as challenge:
        urllib.request.urlopen(url, timeout=10)  # noqa: S310
    assert challenge.value.code == 401
    assert "basic" in challenge.value.headers["WWW-Authenticate"].lower()


def test_the_target_reads_capabilities_and_names_what_localstack_lacks(localstack: HostLocalStack) -> None:
    config = load_config(ROOT / "harness.yaml")
    target = LocalStackTarget(
        config.accounts, config.region, endpoint=localstack.endpoint_url, templates=TEMPLATES
    )
    with target:
        caps = target.capabilities
        assert {
            "pipeline-execution",
            "manual-approval",
            "build",
            "codecommit-git",
            "codecommit-api",
        } <= caps
        # community 4.14 has no ECS / ELBv2: the plugin's providers and resource providers fill them in
        assert {"bluegreen", "alb-data-plane"} <= caps
        # CodeStar Notifications' managed rule is in LocalStack's EventBridge, its target the plugin's sender
        assert "chat" in caps and target.plugin["notification_rules_fed"] is True
        assert target.missing_types == []
        assert target.client("codepipeline").list_pipelines()["pipelines"] == []


def test_the_management_stack_deploys_through_localstacks_cloudformation(localstack: HostLocalStack) -> None:
    config = load_config(ROOT / "harness.yaml")
    target = LocalStackTarget(
        config.accounts, config.region, endpoint=localstack.endpoint_url, templates=TEMPLATES
    )
    with target:
        [management] = [
            s for s in pipeline_specs(target, config, ("code-bucket", "chat.zip")) if s.key == "management"
        ]
        started = time.monotonic()
        deployed = deploy_stack(target, management, timeout=120)
        assert time.monotonic() - started < 120
        codecommit = target.client("codecommit", "management")
        repo_name = deployed.output("RepositoryName")  # Fn::GetAtt through the plugin's provider
        repo = codecommit.get_repository(repositoryName=repo_name)["repositoryMetadata"]
        assert repo["accountId"] == config.accounts.management
        assert deployed.output("RepositoryArn") == repo["Arn"]
        assert deployed.output("CloneUrlHttp") == repo["cloneUrlHttp"]
        delete_stack(target, management, timeout=120)
        with pytest.raises(ClientError):
            codecommit.get_repository(repositoryName=repo_name)
