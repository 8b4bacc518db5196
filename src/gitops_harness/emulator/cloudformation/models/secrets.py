"""AWS::SecretsManager::Secret (Ref: the secret ARN), which moto's CloudFormation lacks: CreateSecret through
the API, with GenerateSecretString's password from GetRandomPassword (put under GenerateStringKey of
SecretStringTemplate when both are given, as CloudFormation does)."""

from __future__ import annotations

import json
from typing import Any

from gitops_harness.emulator.cloudformation.resource import ApiResource, Placement, ResourceFailure

# GenerateSecretString members that are GetRandomPassword's parameters of the same name
_PASSWORD_OPTIONS = (
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExcludeLowercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


class Secret(ApiResource):
    resource_type = "AWS::SecretsManager::Secret"
    service = "secretsmanager"
    name_property = "Name"
    attributes = frozenset({"Id"})

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        for name in ("ReplicaRegions", "Type"):
            if properties.get(name):
                raise ResourceFailure(
                    f"Property {name} of {cls.resource_type} is not supported by the embedded AWS"
                )
        params: dict[str, Any] = {"Name": cls.resource_name(properties, where)}
        for name in ("Description", "KmsKeyId", "Tags"):
            if properties.get(name):
                params[name] = properties[name]
        generate = properties.get("GenerateSecretString")
        if generate and properties.get("SecretString"):
            raise ResourceFailure("You can't specify both SecretString and GenerateSecretString for a secret")
        if generate:
            params["SecretString"] = _generated(client, generate)
        elif properties.get("SecretString") is not None:
            params["SecretString"] = str(properties["SecretString"])
        arn = client.create_secret(**params)["ARN"]
        return arn, {"Id": arn}

    def remove(self, client: Any) -> None:
        client.delete_secret(SecretId=self.physical_id, ForceDeleteWithoutRecovery=True)


def _generated(client: Any, generate: dict[str, Any]) -> str:
    options: dict[str, Any] = {}
    for name in _PASSWORD_OPTIONS:
        if generate.get(name) is not None:
            value = generate[name]
            options[name] = (
                int(value)
                if name == "PasswordLength"
                else value
                if name == "ExcludeCharacters"
                else _flag(value)
            )
    password = client.get_random_password(**options)["RandomPassword"]
    template, key = generate.get("SecretStringTemplate"), generate.get("GenerateStringKey")
    if bool(template) != bool(key):
        raise ResourceFailure("SecretStringTemplate and GenerateStringKey must be given together")
    if not template:
        return password
    try:
        document = json.loads(template)
    except ValueError:
        raise ResourceFailure("SecretStringTemplate must be a JSON object") from None
    if not isinstance(document, dict):
        raise ResourceFailure("SecretStringTemplate must be a JSON object")
    document[key] = password
    return json.dumps(document)


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"
