"""The build's environment variables: buildspec env, project/StartBuild variables and secrets.

Parameter Store and Secrets Manager values are resolved in DOWNLOAD_SOURCE, as CodeBuild does; a
failure fails that phase with CodeBuild's context codes ("Decrypted Variables Error",
"Secrets Manager Error").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .build_io import EnvironmentVariable
from .buildspec import EnvSpec, SecretRef

ParameterResolver = Callable[[str], str]
SecretResolver = Callable[[SecretRef], str]  # returns the SecretString of the referenced version


class EnvResolutionError(Exception):
    """A variable could not be resolved; status_code/message go into the DOWNLOAD_SOURCE context."""

    def __init__(self, status_code: str, message: str) -> None:
        self.status_code = status_code
        self.message = message
        super().__init__(f"{status_code}: {message}")


@dataclass
class ResolvedEnvironment:
    variables: dict[str, str] = field(default_factory=dict)
    secret_names: set[str] = field(default_factory=set)  # cannot be exported


def resolve(
    env: EnvSpec,
    overrides: Sequence[EnvironmentVariable],
    *,
    resolve_parameter: ParameterResolver | None,
    resolve_secret: SecretResolver | None,
    log: Callable[[str], None],
) -> ResolvedEnvironment:
    """Lowest precedence first: buildspec variables, buildspec secrets, then project/StartBuild."""
    entries: list[tuple[str, str, str]] = [(k, v, "PLAINTEXT") for k, v in env.variables.items()]
    entries += [(k, v, "PARAMETER_STORE") for k, v in env.parameter_store.items()]
    entries += [(k, v, "SECRETS_MANAGER") for k, v in env.secrets_manager.items()]
    entries += [(v.name, v.value, v.type) for v in overrides]
    out = ResolvedEnvironment()
    if any(t == "PARAMETER_STORE" for _, _, t in entries):
        log("Decrypting parameter store environment variables")
    for name, value, kind in entries:
        if kind == "PLAINTEXT":
            out.variables[name] = value
            out.secret_names.discard(name)
        elif kind == "PARAMETER_STORE":
            out.variables[name] = _parameter(value, resolve_parameter)
            out.secret_names.add(name)
        elif kind == "SECRETS_MANAGER":
            out.variables[name] = _secret(value, resolve_secret)
            out.secret_names.add(name)
        else:
            raise EnvResolutionError(
                "CLIENT_ERROR",
                f"environment variable {name} has unknown type {kind!r}: "
                "use PLAINTEXT, PARAMETER_STORE or SECRETS_MANAGER",
            )
    return out


def _parameter(name: str, resolver: ParameterResolver | None) -> str:
    if resolver is None:
        raise EnvResolutionError("Decrypted Variables Error", f"no Parameter Store available to read {name}")
    try:
        return resolver(name)
    except Exception as exc:  # the resolver's error text is what the user needs to see
        raise EnvResolutionError("Decrypted Variables Error", _describe(exc)) from exc


def _secret(reference: str, resolver: SecretResolver | None) -> str:
    ref = SecretRef.parse(reference)
    if resolver is None:
        raise EnvResolutionError(
            "Secrets Manager Error", f"no Secrets Manager available to read {ref.secret_id}"
        )
    try:
        text = resolver(ref)
    except Exception as exc:
        raise EnvResolutionError("Secrets Manager Error", _describe(exc)) from exc
    if ref.json_key is None:
        return text
    try:
        document = json.loads(text)
    except ValueError:
        raise EnvResolutionError(
            "Secrets Manager Error",
            f"secret {ref.secret_id} is not JSON, so json-key {ref.json_key} cannot be read",
        ) from None
    if not isinstance(document, dict) or ref.json_key not in document:
        raise EnvResolutionError(
            "Secrets Manager Error", f"json-key {ref.json_key} not found in secret {ref.secret_id}"
        )
    value = document[ref.json_key]
    return value if isinstance(value, str) else json.dumps(value)


def _describe(exc: Exception) -> str:
    # botocore's ClientError already reads "An error occurred (Code) when calling ...: message".
    return str(exc) or type(exc).__name__
