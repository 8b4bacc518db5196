"""UpdateStack as CloudFormation reports it: a resource the update cannot create or update fails with
its reason (CREATE_FAILED / UPDATE_FAILED), the resources the update created are deleted again, and the
stack goes back to its previous template and parameters (UPDATE_ROLLBACK_COMPLETE). moto's update let
the exception escape: the request answered a 500 and the stack said UPDATE_COMPLETE.

A modified resource's new properties are checked as a new resource's are (schemas.py, honoured.py).
Not rolled back: a resource already updated in place before the failure keeps its new settings, and
one the update removed stays removed (moto removes before it adds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitops_harness.emulator.cloudformation.honoured import refused_property
from gitops_harness.emulator.cloudformation.resource import ResourceFailure
from gitops_harness.emulator.cloudformation.schemas import check_properties
from gitops_harness.emulator.cloudformation.stacks import (
    StackResourceFailed,
    _creating,
    _delete_created,
    _Progress,
    _reason,
)


def updating_with_rollback(moto_update: Callable[..., None]) -> Callable[..., None]:
    """moto's `Stack.update`, rolled back when a resource fails."""

    def update(
        stack: Any,
        template: str,
        role_arn: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        resource_map = stack.resource_map
        previous = (
            stack.template,
            stack.parameters,
            resource_map._template,
            resource_map._resource_json_map,
            resource_map.input_parameters,
        )
        existed = set(resource_map._parsed_resources)
        progress = _creating[stack.stack_id] = _Progress(stack)
        try:
            moto_update(stack, template, role_arn, parameters, tags)
        except StackResourceFailed as failure:
            _roll_back_update(stack, progress, failure, failure.logical_id in existed, previous)
        finally:
            _creating.pop(stack.stack_id, None)

    return update


def updating_with_checks(moto_update_resource: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `parsing.parse_and_update_resource`: the new properties checked as at create; a failure
    carries the resource's name. moto retries a failed update in later passes (for ordering between
    resources), so the failure is only reported once the update gives up (in the stack's rollback)."""

    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        progress = _creating.get(resources_map.stack_id)
        if progress is None:
            return moto_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
        try:
            resource_type = resource_json["Type"]
            properties = resource_json.get("Properties") or {}
            invalid = check_properties(
                logical_id, resource_type, properties, region_name
            ) or refused_property(
                resource_type, properties, region_name, lambda value: _clean(value, resources_map)
            )
            if invalid is not None:
                raise ResourceFailure(invalid)
            resource = moto_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except StackResourceFailed:
            raise
        except Exception as error:
            raise StackResourceFailed(logical_id, _reason(error)) from error
        physical_id = getattr(resource, "physical_resource_id", "") or ""
        progress.event(logical_id, resource_json["Type"], physical_id, "UPDATE_COMPLETE")
        return resource

    return parse_and_update_resource


def _clean(value: Any, resources_map: Any) -> Any:
    from moto.cloudformation import parsing

    return parsing.clean_json(value, resources_map)


def _roll_back_update(
    stack: Any, progress: _Progress, failure: StackResourceFailed, updating: bool, previous: tuple[Any, ...]
) -> None:
    resource_map = stack.resource_map
    if updating:  # a failed create already has its CREATE_FAILED event
        resource_type = (resource_map._resource_json_map.get(failure.logical_id) or {}).get("Type", "")
        progress.event(failure.logical_id, resource_type, "", "UPDATE_FAILED", failure.reason)
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    stack.status_reason = (
        f"The following resource(s) failed to {'update' if updating else 'create'}: [{failure.logical_id}]. "
    )
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=stack.status_reason)
    left = _delete_created(resource_map, progress)
    template, parameters, template_dict, json_map, input_parameters = previous
    resource_map._template = template_dict
    resource_map._resource_json_map = {
        **json_map,
        **{k: v for k, v in resource_map._resource_json_map.items() if k in left},
    }
    resource_map.input_parameters = input_parameters
    resource_map.load_mapping()
    resource_map.load_parameters()
    resource_map.load_conditions()
    stack.template, stack.parameters = template, parameters
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    if left:
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack.status_reason = f"The following resource(s) failed to delete: [{', '.join(left)}]."
    else:
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event(stack.status, resource_status_reason=stack.status_reason if left else None)
