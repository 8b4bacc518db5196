"""Load and validate a CodeBuild buildspec (versions 0.1 and 0.2) into dataclasses.

A malformed buildspec raises BuildspecError carrying the one-line message CodeBuild puts in the
DOWNLOAD_SOURCE phase context (status code YAML_FILE_ERROR), with the line it refers to.
Validation walks PyYAML's node graph (yaml.compose) instead of the constructed objects so every
error can name a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

PHASE_NAMES = ("install", "pre_build", "build", "post_build")
SUPPORTED_VERSIONS = ("0.1", "0.2")
# Linux shell tags from the buildspec reference; Windows tags cannot run here.
LINUX_SHELLS = ("bash", "/bin/sh")
WINDOWS_SHELLS = ("powershell.exe", "cmd.exe")


class BuildspecError(Exception):
    """The buildspec cannot be used; `message` is what CodeBuild reports as YAML_FILE_ERROR."""

    status_code = "YAML_FILE_ERROR"

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message if line is None else f"{message} at line {line}"
        self.line = line
        super().__init__(f"{self.status_code}: {self.message}")


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: str = "ABORT"  # ABORT | CONTINUE
    runtime_versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretRef:
    """A secrets-manager reference-key: secret-id:json-key:version-stage:version-id."""

    secret_id: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None

    @classmethod
    def parse(cls, reference: str) -> SecretRef:
        # The secret id may be an ARN, which itself contains 6 colon-separated fields
        # (arn:aws:secretsmanager:region:account:secret:name); the optional parts follow it.
        parts = reference.split(":")
        head = 7 if reference.startswith("arn:") else 1
        secret_id = ":".join(parts[:head])
        rest = parts[head:] + [""] * 3
        return cls(secret_id, rest[0] or None, rest[1] or None, rest[2] or None)


@dataclass(frozen=True)
class EnvSpec:
    variables: dict[str, str] = field(default_factory=dict)
    parameter_store: dict[str, str] = field(default_factory=dict)
    secrets_manager: dict[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    shell: str = "bash"


@dataclass(frozen=True)
class ArtifactSpec:
    files: tuple[str, ...]
    name: str | None = None
    discard_paths: bool = False
    base_directory: str | None = None
    exclude_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Buildspec:
    version: str
    env: EnvSpec
    phases: dict[str, PhaseSpec]
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: dict[str, ArtifactSpec] = field(default_factory=dict)
    # Top-level sections CodeBuild knows but this engine does not run (reports, cache, batch, ...):
    # the build says so in its log instead of passing over them in silence.
    ignored: tuple[str, ...] = ()

    def phase(self, name: str) -> PhaseSpec:
        return self.phases.get(name) or PhaseSpec(name)


def load_buildspec(text: str) -> Buildspec:
    """Parse buildspec YAML text; raise BuildspecError for anything CodeBuild would reject."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise BuildspecError(str(exc.problem or exc.context), mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise BuildspecError(str(exc)) from None
    if root is None:
        raise BuildspecError("buildspec is empty: it needs at least 'version: 0.2' and 'phases'")
    top = _mapping(root, "buildspec")
    if "version" not in top:
        raise BuildspecError("missing version: add 'version: 0.2' at the top of the buildspec", _line(root))
    version_node = top["version"][1]
    version = _scalar(version_node, "version")
    if version not in SUPPORTED_VERSIONS:
        raise BuildspecError(
            f"invalid buildspec version {version!r}: supported versions are 0.1 and 0.2", _line(version_node)
        )
    env = _env(top["env"][1]) if "env" in top else EnvSpec()
    if "phases" not in top:
        raise BuildspecError("missing phases: a buildspec needs a 'phases' mapping", _line(root))
    phases = _phases(top["phases"][1])
    artifacts, secondary = (None, {})
    if "artifacts" in top:
        artifacts, secondary = _artifacts(top["artifacts"][1])
    ignored = tuple(key for key in top if key not in _SECTIONS_RUN)
    return Buildspec(version, env, phases, artifacts, secondary, ignored)


_SECTIONS_RUN = frozenset({"version", "env", "phases", "artifacts"})


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Keys to (key node, value node); duplicate keys are an error, as in CodeBuild's YAML parser."""
    if not isinstance(node, yaml.MappingNode):
        raise BuildspecError(f"Expected {what} to be of map type: found {_kind(node)} instead", _line(node))
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node, f"a key in {what}")
        if key in out:
            raise BuildspecError(f"duplicate key {key!r} in {what}", _line(key_node))
        out[key] = (key_node, value_node)
    return out


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "subkeys"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "an empty value"
    return f"string {node.value!r}"


def _scalar(node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise BuildspecError(
            f"Expected {what} to be of string type: found {_kind(node)} instead", _line(node)
        )
    # Keep the source text ("0.2", "yes", "8080") instead of YAML 1.1's float/bool reading.
    return str(node.value)


def _bool(node: yaml.Node, what: str) -> bool:
    value = _scalar(node, what).lower()
    if value in ("yes", "true", "on"):
        return True
    if value in ("no", "false", "off"):
        return False
    raise BuildspecError(f"Expected {what} to be yes or no: found {value!r}", _line(node))


def _strings(node: yaml.Node, what: str) -> tuple[str, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise BuildspecError(f"Expected {what} to be of list type: found {_kind(node)} instead", _line(node))
    return tuple(_scalar(item, f"{what}[{i}]") for i, item in enumerate(node.value))


def _string_map(node: yaml.Node, what: str) -> dict[str, str]:
    return {k: _scalar(v, f"{what}.{k}") for k, (_, v) in _mapping(node, what).items()}


def _env(node: yaml.Node) -> EnvSpec:
    env = _mapping(node, "env")
    shell = _scalar(env["shell"][1], "env.shell") if "shell" in env else "bash"
    if shell in WINDOWS_SHELLS:
        raise BuildspecError(
            f"shell {shell!r} is for Windows images; this environment is Linux (bash, /bin/sh)",
            _line(env["shell"][1]),
        )
    if shell not in LINUX_SHELLS:
        raise BuildspecError(f"unsupported shell {shell!r}: use bash or /bin/sh", _line(env["shell"][1]))
    return EnvSpec(
        variables=_string_map(env["variables"][1], "env.variables") if "variables" in env else {},
        parameter_store=_string_map(env["parameter-store"][1], "env.parameter-store")
        if "parameter-store" in env
        else {},
        secrets_manager=_string_map(env["secrets-manager"][1], "env.secrets-manager")
        if "secrets-manager" in env
        else {},
        exported_variables=_strings(env["exported-variables"][1], "env.exported-variables")
        if "exported-variables" in env
        else (),
        shell=shell,
    )


def _phases(node: yaml.Node) -> dict[str, PhaseSpec]:
    phases: dict[str, PhaseSpec] = {}
    for name, (key_node, value_node) in _mapping(node, "phases").items():
        if name not in PHASE_NAMES:
            raise BuildspecError(
                f"unknown phase {name!r}: phases are {', '.join(PHASE_NAMES)}", _line(key_node)
            )
        if isinstance(value_node, yaml.ScalarNode) and value_node.tag == "tag:yaml.org,2002:null":
            phases[name] = PhaseSpec(name)  # "build:" with nothing under it runs nothing
            continue
        body = _mapping(value_node, f"phases.{name}")
        on_failure = "ABORT"
        if "on-failure" in body:
            on_failure = _scalar(body["on-failure"][1], f"phases.{name}.on-failure")
            if on_failure not in ("ABORT", "CONTINUE"):
                raise BuildspecError(
                    f"invalid on-failure {on_failure!r} in phase {name}: use ABORT or CONTINUE",
                    _line(body["on-failure"][1]),
                )
        runtimes: dict[str, str] = {}
        if "runtime-versions" in body:
            runtimes = _string_map(body["runtime-versions"][1], f"phases.{name}.runtime-versions")
        phases[name] = PhaseSpec(
            name=name,
            commands=_strings(body["commands"][1], "Commands") if "commands" in body else (),
            finally_commands=_strings(body["finally"][1], "Finally") if "finally" in body else (),
            on_failure=on_failure,
            runtime_versions=runtimes,
        )
    return phases


def _artifact(node: yaml.Node, what: str) -> ArtifactSpec:
    body = _mapping(node, what)
    if "files" not in body:
        raise BuildspecError(f"{what} needs a 'files' list", _line(node))
    return ArtifactSpec(
        files=_strings(body["files"][1], f"{what}.files"),
        name=_scalar(body["name"][1], f"{what}.name") if "name" in body else None,
        discard_paths=_bool(body["discard-paths"][1], f"{what}.discard-paths")
        if "discard-paths" in body
        else False,
        base_directory=_scalar(body["base-directory"][1], f"{what}.base-directory")
        if "base-directory" in body
        else None,
        exclude_paths=_strings(body["exclude-paths"][1], f"{what}.exclude-paths")
        if "exclude-paths" in body
        else (),
    )


def _artifacts(node: yaml.Node) -> tuple[ArtifactSpec | None, dict[str, ArtifactSpec]]:
    body = _mapping(node, "artifacts")
    secondary: dict[str, ArtifactSpec] = {}
    if "secondary-artifacts" in body:
        for ident, (_, value) in _mapping(
            body["secondary-artifacts"][1], "artifacts.secondary-artifacts"
        ).items():
            secondary[ident] = _artifact(value, f"artifacts.secondary-artifacts.{ident}")
    # Only secondary artifacts may leave out the primary's files; anything else needs them.
    primary = _artifact(node, "artifacts") if "files" in body or not secondary else None
    return primary, secondary
