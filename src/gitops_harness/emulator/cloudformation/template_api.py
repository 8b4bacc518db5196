"""ValidateTemplate and GetTemplateSummary as AWS answers them, replacing moto's.

moto runs cfn-lint in ValidateTemplate and rejects on any finding (an unused parameter becomes "Stack
with id <message> does not exist"); AWS rejects only template format errors and answers the template's
Parameters, Description, Capabilities (with CapabilitiesReason) and DeclaredTransforms.
"""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.cloudformation.validation import check_format

# IAM resources need CAPABILITY_IAM; given a custom name, CAPABILITY_NAMED_IAM (AWS's "Acknowledging IAM
# resources" list, with the property that names each)
IAM_TYPES: dict[str, str | None] = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}


def capabilities(template: dict[str, Any]) -> tuple[list[str], str | None]:
    """The capabilities the template needs and AWS's reason naming the resource types that need them."""
    needing: list[str] = []
    named = False
    for resource in (template.get("Resources") or {}).values():
        kind = resource.get("Type", "")
        if kind in IAM_TYPES:
            if kind not in needing:
                needing.append(kind)
            name_property = IAM_TYPES[kind]
            named = named or bool(name_property and (resource.get("Properties") or {}).get(name_property))
    if not needing:
        return [], None
    capability = "CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"
    return [capability], f"The following resource(s) require capabilities: [{', '.join(needing)}]"


def transforms(template: dict[str, Any]) -> list[str]:
    declared = template.get("Transform") or []
    return [declared] if isinstance(declared, str) else [str(t) for t in declared if isinstance(t, str)]


def template_parameters(template: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, spec in (template.get("Parameters") or {}).items():
        parameter: dict[str, Any] = {
            "ParameterKey": key,
            "NoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
        }
        if "Default" in spec:
            default = spec["Default"]
            parameter["DefaultValue"] = (
                ",".join(str(v) for v in default) if isinstance(default, list) else str(default)
            )
        if "Description" in spec:
            parameter["Description"] = str(spec["Description"])
        out.append(parameter)
    return out


def validate_template(template_body: Any) -> dict[str, Any]:
    template = check_format(template_body)
    needed, reason = capabilities(template)
    result: dict[str, Any] = {
        "Parameters": template_parameters(template),
        "Capabilities": needed,
        "DeclaredTransforms": transforms(template),
    }
    if reason:
        result["CapabilitiesReason"] = reason
    if "Description" in template:
        result["Description"] = str(template["Description"])
    return result


# CloudFormation's quotas: a template in the request body, and one read from S3 (TemplateURL, nested stacks)
MAX_TEMPLATE_BODY_BYTES = 51_200
MAX_TEMPLATE_URL_BYTES = 460_800


def template_body_limited(moto_get_param: Any) -> Any:
    """moto's `CloudFormationResponse._get_param`: a TemplateBody over 51,200 bytes is AWS's request
    validation error (CreateStack, UpdateStack, CreateChangeSet, ValidateTemplate, GetTemplateSummary),
    where moto took any size. The value is not echoed back."""
    from moto.cloudformation.exceptions import ValidationError

    def get_param(response: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        value = moto_get_param(response, name, *args, **kwargs)
        body = value if name == "TemplateBody" and isinstance(value, str) else ""
        if len(body.encode("utf-8")) > MAX_TEMPLATE_BODY_BYTES:
            raise ValidationError(
                message="1 validation error detected: Value at 'templateBody' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_TEMPLATE_BODY_BYTES}"
            )
        return value

    return get_param


def validate_template_replacing(_moto_validate: Any) -> Any:
    """moto's `CloudFormationResponse.validate_template`."""

    def validate(response: Any) -> Any:
        from moto.core.responses import ActionResult

        body = response._get_param("TemplateBody")
        url = response._get_param("TemplateURL")
        if url:
            body = response._get_stack_from_s3_url(url)
        return ActionResult(validate_template(body))

    return validate


def summary_replacing(_moto_summary: Any) -> Any:
    """moto's `responses.get_template_summary_response_from_template` over our decoder."""

    def summary(template_body: Any) -> dict[str, Any]:
        template = check_format(template_body)
        needed, reason = capabilities(template)
        result: dict[str, Any] = {
            "Parameters": [
                {
                    "ParameterKey": key,
                    "DefaultValue": p.get("DefaultValue"),
                    "NoEcho": p["NoEcho"],
                    "Description": p.get("Description", ""),
                    "ParameterType": str(spec.get("Type", "String")),
                    "ParameterConstraints": (
                        {"AllowedValues": [str(v) for v in spec["AllowedValues"]]}
                        if "AllowedValues" in spec
                        else {}
                    ),
                }
                for (key, spec), p in zip(
                    (template.get("Parameters") or {}).items(), template_parameters(template), strict=True
                )
            ],
            "ResourceTypes": [r["Type"] for r in template["Resources"].values()],
            "Capabilities": needed,
            "DeclaredTransforms": transforms(template),
        }
        if reason:
            result["CapabilitiesReason"] = reason
        for key in ("Description", "Metadata"):
            if key in template:
                result[key] = template[key]
        if "AWSTemplateFormatVersion" in template:
            result["Version"] = str(template["AWSTemplateFormatVersion"])
        return result

    return summary
