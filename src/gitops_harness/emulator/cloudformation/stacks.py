"""moto's CloudFormation with our resource models, per-resource events, and create failures that roll
the stack back as CloudFormation does instead of answering a 500 or skipping the resource.

Installed into moto's module state while an emulator runs by emulator/moto_patches.py (group
"cloudformation"): moto's parser finds a resource class through `parsing.resource_class_from_type` and
creates resources through `parsing.parse_and_create_resource`, both module globals looked up at call
time; `CloudFormationBackend.create_stack`/`delete_stack` run the stack. Each replacement here is a
function of moto's original, so nothing keeps moto's state of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.emulator.cloudformation import network_completions  # noqa: F401  (registers its completions)
from gitops_harness.emulator.cloudformation.completions import AFTER_CREATE, without_no_value
from gitops_harness.emulator.cloudformation.honoured import refused_property
from gitops_harness.emulator.cloudformation.models import resource_class_from_type
from gitops_harness.emulator.cloudformation.naming import with_generated_name
from gitops_harness.emulator.cloudformation.nested import NESTED_STACK, check_child, check_template_url
from gitops_harness.emulator.cloudformation.resource import (
    ResourceFailure,
    client_for,
    handler_message,
)
from gitops_harness.emulator.cloudformation.schemas import check_properties
from gitops_harness.emulator.cloudformation.validation import check_template, references

if TYPE_CHECKING:
    pass


class StackResourceFailed(Exception):
    def __init__(self, logical_id: str, reason: str):
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason


@dataclass
class _Progress:
    """A stack being created: the resources created so far, in order (rolled back in reverse)."""

    stack: Any
    created: list[str] = field(default_factory=list)
    # the failed resource's own clean-up, run first on rollback (a custom resource gets its Delete)
    failed_cleanup: tuple[str, str, Callable[[], str]] | None = None

    def event(
        self, logical_id: str, resource_type: str, physical_id: str, status: str, reason: str | None = None
    ) -> None:
        from moto.cloudformation.models import Event

        self.stack.events.append(
            Event(
                stack_id=self.stack.stack_id,
                stack_name=self.stack.name,
                logical_resource_id=logical_id,
                physical_resource_id=physical_id,
                resource_type=resource_type,
                resource_status=status,
                resource_status_reason=reason,
                resource_properties=None,
            )
        )


_creating: dict[str, _Progress] = {}  # by stack id; ids are unique, so threads never share an entry


def resource_class_lookup(_moto_lookup: Callable[[str], Any]) -> Callable[[str], Any]:
    """moto's `parsing.resource_class_from_type`: our models first, unsupported types fail."""
    return resource_class_from_type


def _reason(error: BaseException) -> str:
    if isinstance(error, ResourceFailure):
        return str(error)
    message = getattr(error, "message", None) or getattr(error, "description", None) or str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def creating_with_events(moto_create: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `parsing.parse_and_create_resource`, with per-resource events and failures that roll back."""

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:  # moto passes these by keyword
        def create() -> Any:
            invalid = check_properties(
                logical_id, resource_json["Type"], resource_json.get("Properties") or {}, region_name
            )
            if invalid is not None:
                raise ResourceFailure(invalid)
            from moto.cloudformation import parsing

            refused = refused_property(
                resource_json["Type"],
                resource_json.get("Properties") or {},
                region_name,
                lambda value: parsing.clean_json(value, resources_map),
            )
            if refused is not None:
                raise ResourceFailure(refused)
            nested = resource_json["Type"] == NESTED_STACK
            if nested:
                properties = resource_json.get("Properties") or {}
                check_template_url(parsing.clean_json(properties.get("TemplateURL"), resources_map))
            resource = moto_create(
                logical_id,
                with_generated_name(logical_id, resource_json),
                resources_map,
                account_id,
                region_name,
            )
            if nested:
                check_child(resource, account_id, region_name)
            return _completed(resource, resource_json, resources_map, account_id, region_name)

        return _create_with_events(create, logical_id, resource_json, resources_map)

    return parse_and_create_resource


def _create_with_events(
    create: Callable[[], Any], logical_id: str, resource_json: dict[str, Any], resources_map: Any
) -> Any:
    progress = _creating.get(resources_map.stack_id)
    condition = resource_json.get("Condition")
    if progress is None or (condition and not resources_map.lazy_condition_map[condition]):
        return create()
    resource_type = resource_json["Type"]
    progress.event(logical_id, resource_type, "", "CREATE_IN_PROGRESS")
    try:
        resource = create()
    except StackResourceFailed:
        raise  # a resource this one refers to failed; that one carries the reason
    except Exception as error:
        reason = _reason(error)
        progress.event(logical_id, resource_type, "", "CREATE_FAILED", reason)
        cleanup = getattr(error, "cleanup", None)
        if cleanup is not None:
            progress.failed_cleanup = (logical_id, resource_type, cleanup)
        raise StackResourceFailed(logical_id, reason) from error
    progress.created.append(logical_id)
    progress.event(
        logical_id, resource_type, getattr(resource, "physical_resource_id", "") or "", "CREATE_COMPLETE"
    )
    return resource


def _completed(
    resource: Any, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    """After moto's create: the properties moto ignores for that type (completions.AFTER_CREATE)."""
    completion = AFTER_CREATE.get(resource_json["Type"])
    if resource is not None and completion is not None:
        from moto.cloudformation import parsing

        service, apply = completion
        # resolved, and without the None that AWS::NoValue leaves in lists and objects
        properties = without_no_value(
            parsing.clean_json(resource_json.get("Properties") or {}, resources_map)
        )
        try:
            apply(client_for(service, account_id, region_name), resource, properties)
        except (ClientError, BotoCoreError) as error:
            raise ResourceFailure(handler_message(error, service)) from None
    return resource


def create_stack_replacing(_moto_create_stack: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `CloudFormationBackend.create_stack`, replaced whole (validation first, rollback on failure)."""
    return create_stack


def create_stack(
    backend: Any,
    name: str,
    template: str,
    parameters: dict[str, Any],
    notification_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
    role_arn: str | None = None,
    enable_termination_protection: bool | None = False,
    timeout_in_mins: int | None = None,
    stack_policy_body: str | None = None,
) -> Any:
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.cloudformation.models import Stack
    from moto.cloudformation.utils import generate_stack_id

    if any(stack.name == name for stack in backend.stacks.values()):
        raise AlreadyExistsException(f"Stack [{name}] already exists")
    check_template(template, parameters)
    stack_id = generate_stack_id(name, backend.region_name, backend.account_id)
    stack = Stack(
        stack_id=stack_id,
        name=name,
        template=template,
        parameters=parameters,
        account_id=backend.account_id,
        region_name=backend.region_name,
        notification_arns=notification_arns,
        tags=tags,
        role_arn=role_arn,
        cross_stack_resources=backend.exports,
        enable_termination_protection=enable_termination_protection,
        timeout_in_mins=timeout_in_mins,
        stack_policy_body=stack_policy_body,
    )
    backend.stacks[stack_id] = stack
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    _create_resources(backend, stack)
    return stack


def _create_resources(backend: Any, stack: Any) -> None:
    """Create `stack`'s resources in order; the first failure rolls the stack back."""
    stack_id, name = stack.stack_id, stack.name
    progress = _creating[stack_id] = _Progress(stack)
    try:
        missing = _missing_import(stack)
        if missing is not None:
            _fail_before_resources(stack, missing)
            return
        stack.create_resources()
        # exports resolve after the resources exist, and only a created stack exports anything
        exports = stack.exports
        for export in exports:
            holder = backend.exports.get(export.name)
            if holder is not None and holder.exporting_stack_id != stack_id:
                raise StackResourceFailed(
                    name,
                    f"Export with name {export.name} is already exported by stack {holder.exporting_stack_id}",
                )
        for export in exports:
            backend.exports[export.name] = export
    except StackResourceFailed as failure:
        _roll_back(stack, progress, failure)
    finally:
        del _creating[stack_id]


def executing_change_sets(moto_execute: Callable[..., None]) -> Callable[..., None]:
    """moto's `CloudFormationBackend.execute_change_set`: a CREATE change set (what `aws cloudformation
    deploy` makes for a new stack) creates the stack as CreateStack does (events, rollback on a failed
    resource), and an UPDATE change set updates it as UpdateStack does; moto's reported success whatever
    failed, or answered a 500."""

    def execute_change_set(backend: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = backend.change_sets.get(change_set_name) or next(
            (c for c in backend.change_sets.values() if c.change_set_name == change_set_name), None
        )
        if change_set is None:
            return moto_execute(backend, change_set_name, stack_name)
        if change_set.change_set_type == "CREATE":
            _execute_create(backend, change_set)
        else:  # through Stack.update, so a failed resource rolls the update back (updates.py)
            stack = backend.stacks[change_set.stack_id]
            stack.update(change_set.template, change_set.role_arn, parameters=change_set.parameters)
            done = stack.status == "UPDATE_COMPLETE"
            change_set.execution_status = "EXECUTE_COMPLETE" if done else "EXECUTE_FAILED"
        return None

    return execute_change_set


def validating_change_sets(moto_create: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `CloudFormationBackend.create_change_set`, validating the template first as CreateStack
    does (AWS refuses a malformed template at CreateChangeSet, before any stack exists)."""

    def create_change_set(
        backend: Any,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        check_template(template, parameters)
        return moto_create(backend, stack_name, change_set_name, template, parameters, *args, **kwargs)

    return create_change_set


def _execute_create(backend: Any, change_set: Any) -> None:
    from moto.cloudformation.models import Stack

    reviewed = backend.stacks[change_set.stack_id]
    stack = Stack(
        stack_id=reviewed.stack_id,
        name=reviewed.name,
        template=change_set.template,
        parameters=change_set.parameters,
        account_id=backend.account_id,
        region_name=backend.region_name,
        notification_arns=change_set.notification_arns,
        tags=change_set.tags,
        role_arn=change_set.role_arn,
        cross_stack_resources=backend.exports,
    )
    stack.events = reviewed.events  # REVIEW_IN_PROGRESS first, as on AWS
    backend.stacks[stack.stack_id] = stack
    change_set.stack = stack
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    _create_resources(backend, stack)
    change_set.execution_status = (
        "EXECUTE_COMPLETE" if stack.status == "CREATE_COMPLETE" else "EXECUTE_FAILED"
    )


def _import_names(node: Any, conditions: Any) -> Any:
    """Fn::ImportValue arguments, in the branches of Fn::If the conditions take."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::ImportValue":
                yield value
            elif key == "Fn::If" and isinstance(value, list) and len(value) == 3:
                taken = conditions[value[0]] if isinstance(value[0], str) and value[0] in conditions else True
                yield from _import_names(value[1] if taken else value[2], conditions)
            else:
                yield from _import_names(value, conditions)
    elif isinstance(node, list):
        for item in node:
            yield from _import_names(item, conditions)


def _missing_import(stack: Any) -> str | None:
    """AWS resolves every Fn::ImportValue before it creates anything (an import name may use only
    parameters, pseudo parameters, mappings and other imports, never resources): the reason for the
    first export that does not exist, else None."""
    from moto.cloudformation import parsing

    template = stack.template_dict
    resources = set(template.get("Resources") or {})
    exports = {export.name for export in stack.resource_map.cross_stack_resources.values()}
    for section in ("Resources", "Outputs"):
        for entries in (template.get(section) or {}).values():
            condition = entries.get("Condition") if isinstance(entries, dict) else None
            conditions = stack.resource_map.lazy_condition_map
            if isinstance(condition, str) and condition in conditions and not conditions[condition]:
                continue
            for name in _import_names(entries, conditions):
                if set(references(name)) & resources:
                    continue  # resolving it would create the resource early; AWS forbids such names anyway
                try:
                    resolved = parsing.clean_json(name, stack.resource_map)
                except Exception:
                    continue  # not resolvable before the resources: moto resolves (or fails) it in order
                if isinstance(resolved, str) and resolved not in exports:
                    return f"No export named {resolved} found."
    return None


def _fail_before_resources(stack: Any, reason: str) -> None:
    from moto.cloudformation.parsing import OutputMap

    stack.status = "ROLLBACK_IN_PROGRESS"
    stack.status_reason = f"{reason} Rollback requested by user."
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=stack.status_reason)
    stack.output_map = OutputMap(stack.resource_map, {"Outputs": {}}, stack.stack_id)
    stack.resource_map._resource_json_map = {}
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _roll_back(stack: Any, progress: _Progress, failure: StackResourceFailed) -> None:
    from moto.cloudformation.parsing import OutputMap

    resource_map = stack.resource_map
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack.status_reason = (
        f"The following resource(s) failed to create: [{failure.logical_id}]. Rollback requested by user."
    )
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=stack.status_reason)
    left: list[str] = []
    if progress.failed_cleanup is not None:
        logical_id, resource_type, cleanup = progress.failed_cleanup
        progress.event(logical_id, resource_type, "", "DELETE_IN_PROGRESS")
        try:
            physical_id = cleanup()
        except Exception as error:
            left.append(logical_id)
            progress.event(logical_id, resource_type, "", "DELETE_FAILED", _reason(error))
        else:
            progress.event(logical_id, resource_type, physical_id, "DELETE_COMPLETE")
    left += _delete_created(resource_map, progress)
    # A rolled-back stack has no outputs, and moto's lazy resource map must not create the resources
    # that were never reached when DescribeStacks or ListStackResources looks at it.
    stack.output_map = OutputMap(resource_map, {"Outputs": {}}, stack.stack_id)
    resource_map._resource_json_map = {k: v for k, v in resource_map._resource_json_map.items() if k in left}
    if left:
        stack.status = "ROLLBACK_FAILED"
        stack.status_reason = f"The following resource(s) failed to delete: [{', '.join(left)}]."
    else:
        stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event(stack.status, resource_status_reason=stack.status_reason if left else None)


def _delete_created(resource_map: Any, progress: _Progress) -> list[str]:
    """Delete the resources `progress` created, newest first, with their events; those that could not
    be deleted are returned."""
    left: list[str] = []
    for logical_id in reversed(progress.created):
        resource = resource_map._parsed_resources.get(logical_id)
        resource_type = resource_map._resource_json_map[logical_id]["Type"]
        physical_id = getattr(resource, "physical_resource_id", "") or ""
        progress.event(logical_id, resource_type, physical_id, "DELETE_IN_PROGRESS")
        try:
            resource_map._delete_resource(resource, resource_map._resource_json_map[logical_id])
        except Exception as error:
            left.append(logical_id)
            progress.event(logical_id, resource_type, physical_id, "DELETE_FAILED", _reason(error))
            continue
        resource_map._parsed_resources.pop(logical_id, None)
        progress.event(logical_id, resource_type, physical_id, "DELETE_COMPLETE")
    return left


def deleting_or_failing(moto_delete_stack: Callable[..., None]) -> Callable[..., None]:
    """moto's delete, but a resource that cannot be deleted leaves the stack DELETE_FAILED (with the
    reason) instead of failing the request and losing the stack."""

    def delete_stack(backend: Any, name_or_stack_id: str) -> None:
        _delete_or_fail(moto_delete_stack, backend, name_or_stack_id)

    return delete_stack


def _delete_or_fail(moto_delete_stack: Callable[..., None], backend: Any, name_or_stack_id: str) -> None:
    stacks = [
        stack for stack in list(backend.stacks.values()) if name_or_stack_id in (stack.stack_id, stack.name)
    ]
    for stack in stacks:
        try:
            moto_delete_stack(backend, stack.stack_id)
        except Exception as error:
            backend.stacks[stack.stack_id] = stack
            backend.deleted_stacks.pop(stack.stack_id, None)
            stack.status = "DELETE_FAILED"
            stack.status_reason = f"The following resource(s) failed to delete: {_reason(error)}"
            stack._add_stack_event("DELETE_FAILED", resource_status_reason=stack.status_reason)


def parameter_list(stack: Any) -> list[dict[str, Any]]:
    """DescribeStacks' Parameters, NoEcho ones masked (moto compares values with the keys, and only
    for parameters given explicitly); an SSM parameter type shows the parameter's name as its value
    and what it resolved to as ResolvedValue, as on AWS."""
    declared = stack.template_dict.get("Parameters") or {}
    listed = []
    for key, value in stack.resource_map.resolved_parameters.items():
        slot = declared.get(key, {})
        entry: dict[str, Any] = {"ParameterKey": key, "ParameterValue": value}
        if str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
            entry["ParameterValue"] = (stack.parameters or {}).get(key, slot.get("Default"))
            entry["ResolvedValue"] = ",".join(value) if isinstance(value, list) else value
        if str(slot.get("NoEcho", "false")).lower() == "true":
            entry["ParameterValue"] = "****"
        listed.append(entry)
    return listed


def masked_parameter_list(_moto_property: Any) -> property:
    """moto's `Stack.parameter_list`, NoEcho parameters masked."""
    return property(parameter_list)
