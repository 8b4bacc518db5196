"""Dynamic references `{{resolve:secretsmanager:...}}` and `{{resolve:ssm:...}}`, which moto keeps as
text: resolved when the resource is created, as the stack's account, to the value AWS would put there;
a secret or parameter that does not exist fails the resource with the service's error.

    {{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}
    {{resolve:ssm:name[:version]}}
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.cloudformation.resource import ResourceFailure, client_for

_REFERENCE = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]+)\}\}")
_SERVICE_NAMES = {"secretsmanager": "AWSSecretsManager", "ssm": "AWSSimpleSystemsManagement"}


def resolve_references(text: str, account_id: str, region: str) -> str:
    if "{{resolve:" not in text:
        return text
    return _REFERENCE.sub(lambda match: _resolve(match, account_id, region), text)


def _resolve(match: re.Match[str], account_id: str, region: str) -> str:
    service, reference = match.group(1), match.group(2)
    try:
        if service == "secretsmanager":
            return _secret(reference, account_id, region)
        return _parameter(reference, service == "ssm-secure", account_id, region)
    except ClientError as error:
        info = error.response.get("Error", {})  # both services answer client errors with 400 (moto: 404)
        name = _SERVICE_NAMES.get(service.removesuffix("-secure"), service)
        raise ResourceFailure(
            f"{info.get('Message', '')} (Service: {name}; Status Code: 400; Error Code: {info.get('Code', '')})"
        ) from None


def _secret(reference: str, account_id: str, region: str) -> str:
    # an ARN holds colons itself: arn:aws:secretsmanager:region:account:secret:name
    if reference.startswith("arn:"):
        parts = reference.split(":")
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, *rest = reference.split(":")
    rest += [""] * (4 - len(rest))
    _, json_key, stage, version_id = rest[:4]
    request: dict[str, Any] = {"SecretId": secret_id}
    if version_id:
        request["VersionId"] = version_id
    elif stage:
        request["VersionStage"] = stage
    value = client_for("secretsmanager", account_id, region).get_secret_value(**request)
    secret = value.get("SecretString", "")
    if not json_key:
        return secret
    try:
        document = json.loads(secret)
    except ValueError:
        raise ResourceFailure(
            f"Secret {secret_id} is not a JSON object: cannot read key {json_key}"
        ) from None
    if not isinstance(document, dict) or json_key not in document:
        raise ResourceFailure(f"Could not find SecretKey {json_key} in secret {secret_id}")
    found = document[json_key]
    return found if isinstance(found, str) else json.dumps(found)


def _parameter(reference: str, decrypt: bool, account_id: str, region: str) -> str:
    name, _, version = reference.partition(":")
    ssm = client_for("ssm", account_id, region)
    answer = ssm.get_parameter(Name=f"{name}:{version}" if version else name, WithDecryption=decrypt)
    return str(answer["Parameter"]["Value"])


def ssm_parameter_types(moto_parse: Any) -> Any:
    """moto's `ResourceMap.parse_ssm_parameter` (parameters of type AWS::SSM::Parameter::Value<...>):
    one that names no parameter is CreateStack's ValidationError, as on AWS, where moto failed with
    an AttributeError (a 500)."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.ssm.models import ssm_backends

    def parse_ssm_parameter(resource_map: Any, value: str, value_type: str) -> Any:
        backend = ssm_backends[resource_map._account_id][resource_map._region_name]
        if backend.get_parameter(value) is None:
            raise ValidationError(
                message=f"Unable to fetch parameters [{value}] from parameter store for this account."
            )
        return moto_parse(resource_map, value, value_type)

    return parse_ssm_parameter
