"""Parse a Dockerfile (dockerfile-parse) and evaluate it into a build plan: stages, steps, image config.

Evaluation applies Dockerfile semantics without running anything: ARG/--build-arg scoping and variable
substitution, FROM stages (`AS name`, FROM an earlier stage), COPY/ADD specs (`--from`, `--chown`,
`--chmod`), ENV, EXPOSE, CMD/ENTRYPOINT (exec and shell form), USER, WORKDIR, LABEL, HEALTHCHECK,
VOLUME, STOPSIGNAL, SHELL. RUN is recorded in the history as an empty layer, never executed; the base
image of FROM is recorded, never pulled. Heredocs (`RUN <<EOF`) and ONBUILD triggers are not evaluated.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dockerfile_parse import DockerfileParser

from gitops_harness.emulator.docker_standin.errors import BuildError, DockerfileParseError
from gitops_harness.emulator.docker_standin.shellwords import SubstitutionError, expand, split_words

KNOWN_INSTRUCTIONS = frozenset(
    [
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "MAINTAINER",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ]
)
# Instructions that become a numbered step in BuildKit's progress output (they change the filesystem).
PROGRESS_INSTRUCTIONS = frozenset({"FROM", "RUN", "COPY", "ADD", "WORKDIR"})
# Docker's predefined proxy args may be passed without a matching ARG and never warn as unused.
PREDEFINED_ARGS = frozenset(
    [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
)
DEFAULT_SHELL = ("/bin/sh", "-c")
HISTORY_COMMENT = "buildkit.dockerfile.v0"
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based
    keyword: str  # upper case
    value: str  # continuation lines joined, comments removed


@dataclass(frozen=True)
class CopySpec:
    keyword: str  # COPY or ADD
    sources: tuple[str, ...]
    dest: str  # absolute posix path
    dest_is_dir: bool
    from_ref: str | None  # stage name, stage index or image named by --from
    chown: str | None
    chmod: int | None


@dataclass
class Step:
    line: int
    keyword: str
    display: str  # what BuildKit's progress shows, e.g. `COPY app.py /app/`
    created_by: str  # the history entry
    empty_layer: bool
    copy: CopySpec | None = None


@dataclass
class RuntimeConfig:
    """The `config` object of an OCI image config, built up instruction by instruction."""

    env: dict[str, str] = field(default_factory=dict)
    exposed_ports: dict[str, dict[str, object]] = field(default_factory=dict)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    user: str = ""
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: dict[str, object] | None = None
    volumes: dict[str, dict[str, object]] = field(default_factory=dict)
    stop_signal: str = ""
    shell: list[str] | None = None
    onbuild: list[str] = field(default_factory=list)

    def copy(self) -> RuntimeConfig:
        return RuntimeConfig(**{k: _deep_copy(v) for k, v in self.__dict__.items()})

    def to_oci(self) -> dict[str, object]:
        # Field names and omit-when-empty behaviour follow the OCI image-spec config (config.md).
        out: dict[str, object] = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = dict(sorted(self.exposed_ports.items()))
        if self.env:
            out["Env"] = [f"{k}={v}" for k, v in self.env.items()]
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.volumes:
            out["Volumes"] = dict(sorted(self.volumes.items()))
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(sorted(self.labels.items()))
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        # Docker extensions that the OCI spec allows implementations to carry.
        if self.healthcheck is not None:
            out["Healthcheck"] = dict(self.healthcheck)
        if self.shell is not None:
            out["Shell"] = list(self.shell)
        if self.onbuild:
            out["OnBuild"] = list(self.onbuild)
        return out


@dataclass
class Stage:
    index: int
    name: str | None
    line: int
    base: str  # the image named by FROM (substituted), or the earlier stage's name
    base_stage: int | None  # index of the stage FROM refers to, if it refers to one
    platform: str | None
    steps: list[Step] = field(default_factory=list)
    config: RuntimeConfig = field(default_factory=RuntimeConfig)
    args: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or f"stage-{self.index}"


@dataclass
class BuildPlan:
    stages: list[Stage]
    target: Stage
    unused_build_args: list[str]

    def required_stages(self) -> list[Stage]:
        """The target and every stage it depends on (FROM or COPY --from), in Dockerfile order."""
        needed: set[int] = set()
        pending = [self.target.index]
        while pending:
            index = pending.pop()
            if index in needed:
                continue
            needed.add(index)
            stage = self.stages[index]
            if stage.base_stage is not None:
                pending.append(stage.base_stage)
            for step in stage.steps:
                if step.copy and step.copy.from_ref is not None:
                    dep = self.find_stage(step.copy.from_ref, before=index)
                    if dep is not None:
                        pending.append(dep.index)
        return [s for s in self.stages if s.index in needed]

    def find_stage(self, ref: str, before: int) -> Stage | None:
        for stage in self.stages[:before]:
            if stage.name == ref.lower() or ref == str(stage.index):
                return stage
        return None


def parse(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions; reject instructions Docker does not know."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    instructions = []
    for item in parser.structure:
        keyword = item["instruction"]
        if keyword == "COMMENT":
            continue
        line = item["startline"] + 1
        if keyword not in KNOWN_INSTRUCTIONS:
            raise DockerfileParseError(line, f"unknown instruction: {keyword}")
        instructions.append(Instruction(line, keyword, item["value"].strip()))
    if not instructions:
        raise BuildError("failed to parse dockerfile: file with no instructions")
    return instructions


def evaluate(
    instructions: list[Instruction],
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    labels: Mapping[str, str] | None = None,
    platform: str = "linux/amd64",
) -> BuildPlan:
    return _Evaluator(dict(build_args or {}), platform).run(instructions, target, dict(labels or {}))


class _Evaluator:
    def __init__(self, build_args: dict[str, str], platform: str) -> None:
        self.build_args = build_args
        self.consumed: set[str] = set()
        os_name, _, arch = platform.partition("/")
        # BuildKit's automatic platform args are in the global scope (usable in FROM).
        self.global_args = {
            "TARGETPLATFORM": platform,
            "TARGETOS": os_name,
            "TARGETARCH": arch,
            "BUILDPLATFORM": platform,
            "BUILDOS": os_name,
            "BUILDARCH": arch,
        }
        self.stages: list[Stage] = []

    def run(self, instructions: list[Instruction], target: str | None, labels: dict[str, str]) -> BuildPlan:
        for ins in instructions:
            try:
                self._dispatch(ins)
            except SubstitutionError as exc:
                raise DockerfileParseError(ins.line, str(exc)) from None
        if not self.stages:
            raise DockerfileParseError(instructions[-1].line, "no build stage in current context")
        if target is None:
            chosen = self.stages[-1]
        else:
            found = [s for s in self.stages if s.name == target.lower()]
            if not found:
                raise BuildError(f'target stage "{target}" could not be found')
            chosen = found[0]
        chosen.config.labels.update(labels)
        unused = sorted(set(self.build_args) - self.consumed - PREDEFINED_ARGS)
        return BuildPlan(self.stages, chosen, unused)

    # -- helpers -------------------------------------------------------------------------------

    @property
    def stage(self) -> Stage:
        return self.stages[-1]

    def _scope(self) -> dict[str, str]:
        return {**self.stage.args, **self.stage.config.env}

    def _expand(self, text: str) -> str:
        return expand(text, self._scope())

    def _record(
        self, ins: Instruction, created_by: str, *, empty: bool = True, copy: CopySpec | None = None
    ) -> None:
        display = f"{ins.keyword} {ins.value}"
        self.stage.steps.append(Step(ins.line, ins.keyword, display, created_by, empty, copy))

    def _dispatch(self, ins: Instruction) -> None:
        if ins.keyword == "FROM":
            self._from(ins)
            return
        if ins.keyword == "ARG":
            if self.stages:
                self._arg(ins, self.stage.args)
            else:
                self._arg(ins, self.global_args, global_scope=True)
            return
        if not self.stages:
            raise DockerfileParseError(ins.line, "no build stage in current context")
        getattr(self, f"_{ins.keyword.lower()}")(ins)

    # -- instructions --------------------------------------------------------------------------

    def _from(self, ins: Instruction) -> None:
        words = split_words(ins.value, None)
        platform = None
        while words and words[0].startswith("--"):
            flag = words.pop(0)
            if flag.startswith("--platform="):
                platform = expand(flag.split("=", 1)[1], self.global_args)
            else:
                raise DockerfileParseError(ins.line, f"Unknown flag: {flag[2:].split('=')[0]}")
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise DockerfileParseError(ins.line, "FROM requires either one or three arguments")
        base = expand(words[0], self.global_args)
        if not base:
            raise DockerfileParseError(ins.line, f"base name ({words[0]}) should not be blank")
        name = words[2].lower() if len(words) == 3 else None
        if name is not None:
            if not _STAGE_NAME.match(name):
                raise DockerfileParseError(
                    ins.line,
                    f"invalid name for build stage: {words[2]!r}, name can't start with a number or contain symbols",
                )
            if any(s.name == name for s in self.stages):
                raise DockerfileParseError(ins.line, f'duplicate stage name "{name}"')
        index = len(self.stages)
        parent = next((s for s in self.stages if s.name == base.lower()), None)
        stage = Stage(index, name, ins.line, base, parent.index if parent else None, platform)
        if parent is not None:
            stage.config = parent.config.copy()
        self.stages.append(stage)
        self.stage.steps.append(Step(ins.line, "FROM", f"FROM {base}", f"FROM {base}", True))

    def _arg(self, ins: Instruction, scope: dict[str, str], global_scope: bool = False) -> None:
        for word in split_words(ins.value, None):
            name, has_default, default = word.partition("=")
            if not name:
                raise DockerfileParseError(ins.line, "ARG requires at least one argument")
            self.consumed.add(name)
            if name in self.build_args:
                value: str | None = self.build_args[name]
            elif has_default:
                value = expand(default, self.global_args if global_scope else self._scope())
            else:
                value = self.global_args.get(name) if not global_scope else None
            if value is not None:
                scope[name] = value
        if not global_scope:
            self._record(ins, f"ARG {ins.value}")

    def _env(self, ins: Instruction) -> None:
        pairs = self._key_values(ins, "ENV")
        for key, value in pairs:
            self.stage.config.env[key] = value
        self._record(ins, "ENV " + " ".join(f"{k}={v}" for k, v in pairs))

    def _label(self, ins: Instruction) -> None:
        pairs = self._key_values(ins, "LABEL")
        self.stage.config.labels.update(pairs)
        self._record(ins, "LABEL " + " ".join(f"{k}={v}" for k, v in pairs))

    def _maintainer(self, ins: Instruction) -> None:
        self._record(ins, f"MAINTAINER {self._expand(ins.value)}")

    def _key_values(self, ins: Instruction, keyword: str) -> list[tuple[str, str]]:
        words = split_words(ins.value, None)
        if not words:
            raise DockerfileParseError(ins.line, f"{keyword} requires at least one argument")
        scope = self._scope()
        if "=" not in words[0]:
            # Legacy `ENV key value with spaces` form: one pair, the rest of the line is the value.
            key, _, rest = ins.value.partition(" ")
            if not rest.strip():
                raise DockerfileParseError(ins.line, f"{keyword} must have two arguments")
            return [(expand(key, scope), expand(rest.strip(), scope))]
        pairs = []
        raw_words = _raw_words(ins.value)
        for raw in raw_words:
            if "=" not in raw:
                raise DockerfileParseError(
                    ins.line, f"Syntax error - can't find = in {raw!r}. Must be of the form: name=value"
                )
            key, _, value = raw.partition("=")
            pairs.append((expand(key, scope), expand(value, scope)))
            scope = {**scope, **({pairs[-1][0]: pairs[-1][1]} if keyword == "ENV" else {})}
        return pairs

    def _expose(self, ins: Instruction) -> None:
        ports = []
        for word in split_words(ins.value, self._scope()):
            port, _, proto = word.partition("/")
            proto = (proto or "tcp").lower()
            if proto not in ("tcp", "udp", "sctp"):
                raise DockerfileParseError(ins.line, f"invalid proto: {proto}")
            low, _, high = port.partition("-")
            if not low.isdigit() or (high and not high.isdigit()) or not 0 < int(low) < 65536:
                raise DockerfileParseError(ins.line, f"invalid containerPort: {port}")
            for number in range(int(low), int(high or low) + 1):
                key = f"{number}/{proto}"
                self.stage.config.exposed_ports[key] = {}
                ports.append(key)
        self._record(ins, "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in ports) + "]")

    def _command(self, ins: Instruction) -> list[str]:
        exec_form = _exec_form(ins.value)
        if exec_form is not None:
            return exec_form
        return [*(self.stage.config.shell or DEFAULT_SHELL), ins.value]

    def _cmd(self, ins: Instruction) -> None:
        self.stage.config.cmd = self._command(ins)
        self._record(ins, "CMD " + json.dumps(self.stage.config.cmd))

    def _entrypoint(self, ins: Instruction) -> None:
        self.stage.config.entrypoint = self._command(ins)
        self._record(ins, "ENTRYPOINT " + json.dumps(self.stage.config.entrypoint))

    def _shell(self, ins: Instruction) -> None:
        shell = _exec_form(ins.value)
        if not shell:
            raise DockerfileParseError(ins.line, "SHELL requires the arguments to be in JSON form")
        self.stage.config.shell = shell
        self._record(ins, "SHELL " + json.dumps(shell))

    def _run(self, ins: Instruction) -> None:
        words = _raw_words(ins.value)
        while words and words[0].startswith("--"):  # --mount/--network/--security: nothing to mount
            words.pop(0)
        command = ins.value[ins.value.find(words[0]) :] if words else ""
        if not command:
            raise DockerfileParseError(ins.line, "RUN requires at least one argument")
        exec_form = _exec_form(command)
        shown = (
            " ".join(exec_form)
            if exec_form is not None
            else " ".join([*(self.stage.config.shell or DEFAULT_SHELL), command])
        )
        self._record(ins, f"RUN {shown} # buildkit")

    def _user(self, ins: Instruction) -> None:
        self.stage.config.user = self._expand(ins.value)
        if not self.stage.config.user:
            raise DockerfileParseError(ins.line, "USER requires exactly one argument")
        self._record(ins, f"USER {self.stage.config.user}")

    def _workdir(self, ins: Instruction) -> None:
        path = self._expand(ins.value)
        if not path:
            raise DockerfileParseError(ins.line, "WORKDIR requires exactly one argument")
        self.stage.config.working_dir = posixpath.normpath(
            posixpath.join(self.stage.config.working_dir or "/", path)
        )
        self._record(ins, f"WORKDIR {self.stage.config.working_dir}")

    def _volume(self, ins: Instruction) -> None:
        paths = _exec_form(ins.value) or split_words(ins.value, self._scope())
        for path in paths:
            self.stage.config.volumes[path] = {}
        self._record(ins, "VOLUME " + json.dumps(paths))

    def _stopsignal(self, ins: Instruction) -> None:
        self.stage.config.stop_signal = self._expand(ins.value)
        self._record(ins, f"STOPSIGNAL {self.stage.config.stop_signal}")

    def _onbuild(self, ins: Instruction) -> None:
        self.stage.config.onbuild.append(ins.value)
        self._record(ins, f"ONBUILD {ins.value}")

    def _healthcheck(self, ins: Instruction) -> None:
        words = _raw_words(ins.value)
        check: dict[str, object] = {}
        flags = {
            "--interval": "Interval",
            "--timeout": "Timeout",
            "--start-period": "StartPeriod",
            "--start-interval": "StartInterval",
        }
        while words and words[0].startswith("--"):
            flag, _, value = words.pop(0).partition("=")
            if flag in flags:
                check[flags[flag]] = _duration(ins.line, flag, value)
            elif flag == "--retries":
                if not value.isdigit():
                    raise DockerfileParseError(ins.line, f"invalid value for --retries: {value!r}")
                check["Retries"] = int(value)
            else:
                raise DockerfileParseError(ins.line, f"Unknown flag: {flag[2:]}")
        if not words:
            raise DockerfileParseError(ins.line, "HEALTHCHECK requires an argument")
        kind = words[0].upper()
        rest = ins.value[ins.value.find(words[0]) + len(words[0]) :].strip()
        if kind == "NONE":
            if rest:
                raise DockerfileParseError(ins.line, "HEALTHCHECK NONE takes no arguments")
            test = ["NONE"]
        elif kind == "CMD":
            if not rest:
                raise DockerfileParseError(ins.line, "Missing command after HEALTHCHECK CMD")
            exec_form = _exec_form(rest)
            test = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", rest]
        else:
            raise DockerfileParseError(ins.line, f'Unknown type "{words[0]}" in HEALTHCHECK (try CMD)')
        self.stage.config.healthcheck = {"Test": test, **check}
        self._record(ins, "HEALTHCHECK " + json.dumps(self.stage.config.healthcheck))

    def _copy(self, ins: Instruction) -> None:
        self._copy_or_add(ins)

    def _add(self, ins: Instruction) -> None:
        self._copy_or_add(ins)

    def _copy_or_add(self, ins: Instruction) -> None:
        scope = self._scope()
        exec_form = _exec_form(_strip_flags(ins.value))
        raw = _raw_words(ins.value)
        flags: dict[str, str] = {}
        while raw and raw[0].startswith("--"):
            flag, _, value = raw.pop(0)[2:].partition("=")
            allowed = {"from", "chown", "chmod", "link", "parents", "exclude"} - (
                {"from"} if ins.keyword == "ADD" else set()
            )
            if ins.keyword == "ADD":
                allowed |= {"checksum", "keep-git-dir"}
            if flag not in allowed:
                raise DockerfileParseError(ins.line, f"Unknown flag: {flag}")
            flags[flag] = expand(value, scope)
        words = (
            [expand(w, scope) for w in exec_form]
            if exec_form is not None
            else [expand(w, scope) for w in raw]
        )
        if len(words) < 2:
            raise DockerfileParseError(
                ins.line,
                f"{ins.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.",
            )
        *sources, dest = words
        dest_is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
        base = self.stage.config.working_dir or "/"
        dest_abs = posixpath.normpath(posixpath.join(base, dest))
        chmod = None
        if "chmod" in flags:
            if not re.fullmatch(r"[0-7]{3,4}", flags["chmod"]):
                raise DockerfileParseError(
                    ins.line,
                    f"invalid chmod parameter: {flags['chmod']!r} (the stand-in supports octal modes)",
                )
            chmod = int(flags["chmod"], 8)
        spec = CopySpec(
            ins.keyword, tuple(sources), dest_abs, dest_is_dir, flags.get("from"), flags.get("chown"), chmod
        )
        shown_flags = "".join(f"--{k}={v} " for k, v in flags.items() if k != "link")
        self._record(
            ins, f"{ins.keyword} {shown_flags}{' '.join(sources)} {dest} # buildkit", empty=False, copy=spec
        )


def _exec_form(value: str) -> list[str] | None:
    """A JSON array of strings is the exec form; anything else is the shell form."""
    text = value.strip()
    if not text.startswith("["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
        return parsed
    return None


def _strip_flags(value: str) -> str:
    words = _raw_words(value)
    rest = value
    while words and words[0].startswith("--"):
        word = words.pop(0)
        rest = rest[rest.find(word) + len(word) :]
    return rest.strip()


def _raw_words(value: str) -> list[str]:
    """Split on unquoted whitespace keeping quotes and `$` intact, for later substitution per word."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    escaped = False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quote != "'":
            current.append(ch)
            escaped = True
        elif quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            current.append(ch)
            quote = ch
        elif ch.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def _duration(line: int, flag: str, text: str) -> int:
    """A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds, as Docker stores healthcheck times."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise DockerfileParseError(line, f"time: invalid duration {text!r} for {flag}")
    return int(sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


def _deep_copy(value: object) -> object:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
