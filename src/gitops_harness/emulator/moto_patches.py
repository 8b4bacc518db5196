"""Every change this project makes to moto, in one list, installed and removed symmetrically.

moto keeps its services in module globals shared by every emulator in the process, so a patch is
installed by the first emulator that needs its group and removed by the last one that lets go (counted
per group). Removal goes through `unittest.mock.patch.object` in an ExitStack, so moto is exactly as it
was: an attribute we added (an operation moto lacks) is deleted again, and a plain `moto.mock_aws` in
the user's own tests after the last emulator stopped sees unpatched moto.

A group names the services whose requests need it. It is installed on the emulator's first request for
one of them, or as soon as moto has imported the modules it patches (checked at start and on every
request: moto's state outlives an emulator, and CloudFormation creates functions and rules without a
request of their own service). Loading
moto's modules only on first use keeps the cold start near moto_server's: moto's Lambda alone imports in
~1 s, CloudFormation imports every service it models.

Groups: "lambda" (functions run by emulator/lambda_runtime instead of Docker; taken for Lambda, SNS,
EventBridge and CloudFormation requests, which create or invoke functions), "eventbridge" (delivery
through the emulator that took the request), "sns" (Lambda subscribers get AWS's event asynchronously,
with delivery status records: emulator/sns/), "s3" (bucket-policy checks the front door decided),
"cloudformation" (our resource models, validation, rollback), and "ecs_tasks" / "elb_dataplane" (task
sets whose tasks run, ALB listeners that carry requests; see ecs_tasks/ and elb_dataplane/), taken at
every start: ECR pushes, ECS and ELBv2 requests and CloudFormation all create what they patch.

A new patch is one more PatchSpec in a group of PATCH_GROUPS, or a group of its own with the services
whose requests need it:

    PatchGroup("lambda-executor", (PatchSpec("moto.awslambda.models:LambdaFunction", "_invoke_lambda",
               lambda original: my_invoke, why="run Python functions as local processes"),),
               services=("lambda", "sns", "events"))

Each emulator holds a `MotoPatchSession`: `start()` takes the groups moto already needs,
`ensure_for_service(service)` (the front door, per request) those of a service, and `close()` (on stop)
lets go of every group it took.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

Replacement = Callable[[Any], Any]  # the original attribute (None when moto lacks it) -> the new one


@dataclass(frozen=True)
class PatchSpec:
    target: str  # "module:Object" (or "module" for a module attribute), imported at install time
    attribute: str
    replacement: Replacement
    why: str
    missing_only: bool = False  # add only when moto lacks the attribute (never replace what it has)
    when: Callable[[], bool] | None = None  # install only if this holds (checked at install time)


@dataclass(frozen=True)
class PatchGroup:
    name: str
    specs: tuple[PatchSpec, ...]
    services: tuple[str, ...] = ()  # signing names whose requests need it; () = at every start
    # run before the first install (imports moto needs for the patched code, caches to clear)
    prepare: Callable[[], None] | None = None

    def modules(self) -> set[str]:
        return {spec.target.partition(":")[0] for spec in self.specs}


def _resolve(target: str) -> Any:
    module_name, _, attribute_path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attribute_path.split(".")):
        obj = getattr(obj, part)
    return obj


# ---- the patches ----------------------------------------------------------------------------------------


def _lambda(name: str) -> Replacement:
    def replacement(original: Any) -> Any:
        from gitops_harness.emulator.lambda_runtime import moto_hook

        return getattr(moto_hook, name)(original)

    return replacement


def _eventbridge_routing(original: Any) -> Any:
    from gitops_harness.emulator.eventbridge.delivery import routing_send_to_targets

    return routing_send_to_targets(original)


def _bucket_policy_deferral(original: Any) -> Any:
    from gitops_harness.emulator.iam.enforcement import deferring_bucket_permission

    return deferring_bucket_permission(original)


def _cloudformation(name: str, module: str = "stacks") -> Replacement:
    def replacement(original: Any) -> Any:
        found = importlib.import_module(f"gitops_harness.emulator.cloudformation.{module}")
        return getattr(found, name)(original)

    return replacement


def _prepare_cloudformation() -> None:
    import moto.logs.models  # noqa: F401  (moto's parser does not import it: AWS::Logs::* would be unknown)
    from moto.cloudformation import parsing

    # moto caches its model map; ours must be seen by the lookups made after the install
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def _from(module: str, name: str) -> Replacement:
    def replacement(original: Any) -> Any:
        return getattr(importlib.import_module(f"gitops_harness.emulator.{module}"), name)(original)

    return replacement


_CFN = "moto.cloudformation"

PATCH_GROUPS: dict[str, PatchGroup] = {
    group.name: group
    for group in (
        PatchGroup(
            "lambda",
            (
                PatchSpec(
                    "moto.awslambda.models:LambdaFunction",
                    "invoke",
                    _lambda("invoke_replacement"),
                    why="run python3.x functions as local processes; never Docker, never an image registry",
                ),
                PatchSpec(
                    "moto.awslambda.models:LambdaBackend",
                    "create_function",
                    _lambda("preparing_runtime_on_create"),
                    why="start the Lambda fork server when a function is created, not at its first invocation",
                ),
                PatchSpec(
                    "moto.awslambda.models:LambdaFunction",
                    "_create_zipfile_from_plaintext_code",
                    _cloudformation("inline_code_with_cfnresponse", "custom"),
                    why="inline ZipFile code gets this project's cfnresponse module, as AWS adds its own",
                ),
            ),
            # every request that can create or invoke a function (stacks create them, SNS and rules invoke)
            services=("lambda", "sns", "events", "cloudformation"),
        ),
        PatchGroup(
            "sns",
            (
                PatchSpec(
                    "moto.sns.models:Subscription",
                    "publish",
                    _from("sns.delivery", "publishing"),
                    why="Lambda subscribers get AWS's event, asynchronously, with delivery status records",
                ),
                PatchSpec(
                    "moto.sns.responses:SNSResponse",
                    "get_topic_attributes",
                    _from("sns.delivery_status", "with_feedback_attributes"),
                    why="GetTopicAttributes answers the delivery status attributes moto stores",
                ),
            ),
            # CloudFormation creates topics and subscriptions; CodeStar Notifications publishes through sns
            services=("sns", "cloudformation"),
        ),
        PatchGroup(
            "eventbridge",
            (
                PatchSpec(
                    "moto.events.models:Rule",
                    "send_to_targets",
                    _eventbridge_routing,
                    why="deliver through the emulator that took the request (other accounts, pipelines, FIFO lanes)",
                ),
            ),
            services=("events",),
        ),
        PatchGroup(
            "s3",
            (
                PatchSpec(
                    "moto.s3.models:FakeBucket",
                    "get_permission",
                    _bucket_policy_deferral,
                    why="moto denies every statement with a Condition; the front door decided the object request",
                ),
            ),
            services=("s3",),
        ),
        PatchGroup(
            "cloudformation",
            (
                PatchSpec(
                    f"{_CFN}.parsing",
                    "resource_class_from_type",
                    _cloudformation("resource_class_lookup"),
                    why="our resource models; unsupported types fail instead of being skipped",
                ),
                PatchSpec(
                    f"{_CFN}.parsing",
                    "parse_and_create_resource",
                    _cloudformation("creating_with_events"),
                    why="per-resource events and create failures that roll the stack back",
                ),
                PatchSpec(
                    f"{_CFN}.parsing",
                    "clean_json",
                    _cloudformation("with_extra_intrinsics", "intrinsics"),
                    why="Fn::Cidr, Fn::GetAZs '' and GetAtt attributes moto lacks",
                ),
                PatchSpec(
                    f"{_CFN}.parsing:ResourceMap",
                    "_delete_resource",
                    _cloudformation("with_api_deletes", "deletions"),
                    why="deletes moto skips (routes, gateways...) and our models' deletes",
                ),
                PatchSpec(
                    f"{_CFN}.parsing:ResourceMap",
                    "delete",
                    _cloudformation("deleting_in_reverse_order", "deletions"),
                    why="dependents deleted before what they depend on (a custom resource before its function)",
                ),
                PatchSpec(
                    f"{_CFN}.models:CloudFormationBackend",
                    "create_stack",
                    _cloudformation("create_stack_replacing"),
                    why="validation before anything is created, rollback on failure",
                ),
                PatchSpec(
                    "moto.elbv2.models:ELBv2Backend",
                    "convert_and_validate_properties",
                    _cloudformation("listener_actions_kept", "network_completions"),
                    why="a listener's forward action keeps its ForwardConfig (weighted target groups)",
                ),
                PatchSpec(
                    f"{_CFN}.parsing:ResourceMap",
                    "parse_ssm_parameter",
                    _cloudformation("ssm_parameter_types", "dynamic_references"),
                    why="an SSM parameter type naming no parameter is a ValidationError, not a 500",
                ),
                PatchSpec(
                    f"{_CFN}.models:CloudFormationBackend",
                    "create_change_set",
                    _cloudformation("validating_change_sets"),
                    why="templates validated at CreateChangeSet as at CreateStack",
                ),
                PatchSpec(
                    f"{_CFN}.models:CloudFormationBackend",
                    "execute_change_set",
                    _cloudformation("executing_change_sets"),
                    why="a CREATE change set (aws cloudformation deploy) creates the stack as CreateStack does",
                ),
                PatchSpec(
                    f"{_CFN}.models:Stack",
                    "update",
                    _cloudformation("updating_with_rollback", "updates"),
                    why="a resource an update cannot create or update rolls the update back (no 500)",
                ),
                PatchSpec(
                    f"{_CFN}.parsing",
                    "parse_and_update_resource",
                    _cloudformation("updating_with_checks", "updates"),
                    why="a modified resource's properties checked as at create, failures named",
                ),
                PatchSpec(
                    f"{_CFN}.models:Stack",
                    "physical_resource_id",
                    _cloudformation("stack_id_as_ref", "nested"),
                    why="Ref of a nested stack is its stack ID",
                ),
                PatchSpec(
                    f"{_CFN}.models",
                    "get_stack_from_s3_url",
                    _cloudformation("nested_template_reading", "nested"),
                    why="nested TemplateURLs in every S3 form, the emulator's own endpoint included",
                ),
                PatchSpec(
                    f"{_CFN}.responses",
                    "get_stack_from_s3_url",
                    _cloudformation("request_template_reading", "nested"),
                    why="TemplateURL parameters in every S3 form, the emulator's own endpoint included",
                ),
                PatchSpec(
                    f"{_CFN}.models:CloudFormationBackend",
                    "delete_stack",
                    _cloudformation("deleting_or_failing"),
                    why="DELETE_FAILED with the reason instead of a failed request",
                ),
                PatchSpec(
                    f"{_CFN}.parsing",
                    "generate_resource_name",
                    _cloudformation("generating_aws_names", "naming"),
                    why="AWS's generated names (lower case for ECR repositories)",
                ),
                PatchSpec(
                    f"{_CFN}.models:Stack",
                    "parse_template",
                    _cloudformation("parse_template_replacing", "decoding"),
                    why="cfn-lint's decoder: every short form, dates kept as written, AWS's format errors",
                ),
                PatchSpec(
                    f"{_CFN}.models:ChangeSet",
                    "_parse_template",
                    _cloudformation("change_set_parsing", "decoding"),
                    why="change sets read templates as stacks do",
                ),
                PatchSpec(
                    f"{_CFN}.responses:CloudFormationResponse",
                    "validate_template",
                    _cloudformation("validate_template_replacing", "template_api"),
                    why="reject only format errors (never a linter warning); Parameters and Capabilities",
                ),
                PatchSpec(
                    f"{_CFN}.responses:CloudFormationResponse",
                    "_get_param",
                    _cloudformation("template_body_limited", "template_api"),
                    why="a TemplateBody over 51,200 bytes is AWS's ValidationError (moto took any size)",
                ),
                PatchSpec(
                    f"{_CFN}.responses",
                    "get_template_summary_response_from_template",
                    _cloudformation("summary_replacing", "template_api"),
                    why="GetTemplateSummary over the same decoder and capabilities",
                ),
                PatchSpec(
                    f"{_CFN}.models:Stack",
                    "parameter_list",
                    _cloudformation("masked_parameter_list"),
                    why="NoEcho parameters read **** in DescribeStacks",
                ),
            ),
            services=("cloudformation",),
            prepare=_prepare_cloudformation,
        ),
        PatchGroup(
            "ecs_tasks",
            (
                *(
                    PatchSpec(
                        "moto.ecs.models:EC2ContainerServiceBackend",
                        name,
                        _from("ecs_tasks.moto_hooks", name),
                        why=why,
                    )
                    for name, why in (
                        (
                            "create_service",
                            "a CODE_DEPLOY service gets its first (PRIMARY) task set, as on ECS",
                        ),
                        ("create_task_set", "task sets run tasks; moto's own run with `scale` crashed"),
                        ("update_task_set", "a new scale starts or stops tasks"),
                        ("delete_task_set", "the task set's tasks stop (DRAINING)"),
                        (
                            "update_service",
                            "CODE_DEPLOY refuses a new task definition; desiredCount rescales",
                        ),
                        ("delete_service", "the service's tasks stop"),
                        ("stop_task", "StopTask stops the task's processes"),
                        ("describe_task_sets", "running/pending counts and stabilityStatus from the tasks"),
                        ("describe_services", "running/pending counts from the task sets"),
                    )
                ),
                PatchSpec(
                    "moto.ec2.models.elastic_network_interfaces:NetworkInterface",
                    "private_dns_name",
                    _from("ecs_tasks.moto_hooks", "eni_private_dns_name"),
                    why="an awsvpc task reads it and moto lacks it (CreateTaskSet with scale crashed)",
                    missing_only=True,
                ),
                PatchSpec(
                    "moto.ecr.models:ECRBackend",
                    "complete_layer_upload",
                    _from("ecs_tasks.ecr_blobs", "keeping_blobs"),
                    why="moto drops pushed layer bytes; tasks read images back from them",
                ),
            ),
        ),
        PatchGroup(
            "elb_dataplane",
            (
                PatchSpec(
                    "moto.elbv2.models:ELBv2Backend",
                    "create_listener",
                    _from("elb_dataplane.data_plane", "creating_listener"),
                    why="each listener is a real HTTP server on 127.0.0.1",
                ),
                PatchSpec(
                    "moto.elbv2.models:ELBv2Backend",
                    "delete_listener",
                    _from("elb_dataplane.data_plane", "deleting_listener"),
                    why="its server stops with it",
                ),
                PatchSpec(
                    "moto.elbv2.models:ELBv2Backend",
                    "delete_load_balancer",
                    _from("elb_dataplane.data_plane", "deleting_load_balancer"),
                    why="its listeners' servers stop with it",
                ),
                PatchSpec(
                    "moto.elbv2.models:FakeTargetGroup",
                    "health_for",
                    _from("elb_dataplane.data_plane", "checked_health"),
                    why="DescribeTargetHealth from real health checks (moto says healthy for any target)",
                ),
            ),
        ),
    )
}


# ---- installing ---------------------------------------------------------------------------------------


@dataclass
class _Installed:
    holders: int = 0
    stack: ExitStack = field(default_factory=ExitStack)


_lock = threading.Lock()
_installed: dict[str, _Installed] = {}


def _install(group: PatchGroup) -> ExitStack:
    if group.prepare is not None:
        group.prepare()
    stack = ExitStack()
    try:
        for spec in group.specs:
            if spec.when is not None and not spec.when():
                continue
            owner = _resolve(spec.target)
            exists = hasattr(owner, spec.attribute)
            if spec.missing_only and exists:
                continue
            original = getattr(owner, spec.attribute) if exists else None
            stack.enter_context(
                mock.patch.object(owner, spec.attribute, spec.replacement(original), create=not exists)
            )
    except BaseException:
        stack.close()
        raise
    return stack


def acquire(name: str) -> None:
    """Take group `name`: the first holder installs its patches."""
    group = PATCH_GROUPS[name]
    with _lock:
        state = _installed.get(name)
        if state is None:
            state = _installed[name] = _Installed(stack=_install(group))
        state.holders += 1


def release(name: str) -> None:
    """Let go of group `name`: the last holder removes its patches (moto as it was)."""
    with _lock:
        state = _installed.get(name)
        if state is None:
            return
        state.holders -= 1
        if state.holders == 0:
            del _installed[name]
            state.stack.close()


def installed(name: str) -> bool:
    with _lock:
        return name in _installed


class MotoPatchSession:
    """The groups one emulator holds; `close()` releases them all (safe to call twice)."""

    def __init__(self, groups: dict[str, PatchGroup] | None = None) -> None:
        self._groups = PATCH_GROUPS if groups is None else groups
        self._held: list[str] = []
        self._seen: set[str] = set()  # services whose groups this session has ensured
        self._lock = threading.Lock()

    def start(self) -> None:
        """Take the groups every emulator needs, and those whose moto modules are loaded already."""
        for group in self._groups.values():
            if not group.services or any(module in sys.modules for module in group.modules()):
                self.ensure(group.name)

    def ensure_for_service(self, service: str | None) -> None:
        """Take the groups a request for `service` needs (None: an unsigned request), and any whose moto
        modules got loaded since."""
        if service is not None and service not in self._seen:
            for group in self._groups.values():
                if service in group.services:
                    self.ensure(group.name)
            self._seen.add(service)
        for group in self._groups.values():
            if group.name not in self._held and any(module in sys.modules for module in group.modules()):
                self.ensure(group.name)

    def ensure(self, name: str) -> None:
        """Take group `name` for this emulator, once (later calls return at once)."""
        if name in self._held:
            return
        with self._lock:
            if name not in self._held:
                acquire(name)
                self._held.append(name)

    def holds(self, name: str) -> bool:
        return name in self._held

    def close(self) -> None:
        with self._lock:
            held, self._held = self._held, []
            self._seen.clear()
        for name in reversed(held):
            release(name)
