"""Static rules for the buildspec a CodeBuild project runs: what its commands write, push and print into
imageDetail.json, and whether CodeBuild can run it at all.

The commands are read with a shell parser (shell_commands) in the order CodeBuild runs them (install,
pre_build, build, post_build; one shell, so `cd` and variables carry over), following scripts from the
source directory that they run. Values are expanded with what the buildspec and the project's environment
set; what stays unknown is never guessed at: a rule that would need it stays quiet.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops_harness.artifacts import codebuild_images
from gitops_harness.artifacts.documents import Document, Path_
from gitops_harness.artifacts.shell_commands import (
    SimpleCommand,
    expand,
    normal_reference,
    parse_command,
    unresolved,
)
from gitops_harness.emulator.codebuild.buildspec import BuildspecError, load_buildspec
from gitops_harness.findings import Finding, Severity

IMAGE_DETAIL = "imageDetail.json"
PHASES = ("install", "pre_build", "build", "post_build")
_GLOB = re.compile(r"[*?\[]")
_ACCOUNT = re.compile(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])")
_REGION = re.compile(
    r"(?<![a-z0-9-])(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-(?:gov-)?"
    r"(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d(?![0-9])"
)
_IMAGE_URI_VALUE = re.compile(r"""["']?ImageURI["']?\s*:\s*["']?([^"',}\s]+)""")
_SCRIPT_RUNNERS = ("bash", "sh", "source", ".")
_OPAQUE = ("make", "eval", "python", "python3", "node", "npm", "yarn", "docker-compose", "gradle", "mvn")
MAX_SCRIPT_BYTES = 256 * 1024
MAX_SCRIPT_DEPTH = 3


@dataclass
class BuildContext:
    """What the rules know about the project that runs the buildspec."""

    deploys_ecs: bool = False  # a CodeDeployToECS action reads imageDetail.json from this build
    # BS001: files the deploy action reads that some artifacts section must export (without a template;
    # XC007 owns this with one): imageDetail.json, taskdef.json and the AppSpec file.
    required_exports: tuple[str, ...] = ()
    image: str | None = None  # the project's Environment.Image when a template names it
    variables: dict[str, str] = field(default_factory=dict)  # the project's plaintext environment
    source_has: Callable[[str], bool] = lambda _: False  # a file exists in the source directory
    read_source: Callable[[str], str | None] = lambda _: None  # a script's text from the source directory
    text: str | None = None  # the buildspec as written, for CodeBuild's own loader and its line numbers


@dataclass
class _Step:
    """One simple command and where it sits in the buildspec."""

    command: SimpleCommand
    where: Path_
    source: str  # the buildspec command text it came from
    cwd: str | None  # relative to the source root; None once a `cd` cannot be followed
    env: dict[str, str]


@dataclass
class _Trace:
    steps: list[_Step] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)  # scripts and tools whose writes cannot be seen


class _Rules:
    def __init__(self, doc: Document, ctx: BuildContext) -> None:
        self.doc, self.ctx = doc, ctx
        self.findings: list[Finding] = []

    def add(self, path: Path_, rule: str, severity: Severity, message: str) -> None:
        self.findings.append(Finding(self.doc.name, self.doc.where(path), rule, severity, message))


def check_buildspec(doc: Document, ctx: BuildContext) -> list[Finding]:
    r = _Rules(doc, ctx)
    data = doc.data
    if not _loads(r):
        return r.findings
    assert isinstance(data, dict)
    trace = _trace(data, ctx)
    _exports(r, data, trace)
    _image_detail_uri(r, trace)
    _docker(r, trace)
    _runtimes(r, data)
    _hard_coded(r, data, trace)
    return r.findings


# --- can CodeBuild load it ---------------------------------------------------------------------------


def _loads(r: _Rules) -> bool:
    """BS011: the buildspec as the embedded CodeBuild's loader (CodeBuild's own rules) reads it."""
    if not isinstance(r.doc.data, dict):
        r.add((), "BS011", Severity.ERROR, "the buildspec must be a mapping with version and phases")
        return False
    text = r.ctx.text
    if text is None:
        import yaml

        text = yaml.dump(r.doc.data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)
    try:
        load_buildspec(text)
    except BuildspecError as exc:
        message = re.sub(r" at line \d+$", "", exc.message)
        where = (
            f"line {exc.line}"
            if exc.line and r.ctx.text is not None
            else r.doc.where(_path_for(r.doc.data, message))
        )
        r.findings.append(
            Finding(r.doc.name, where, "BS011", Severity.ERROR, f"CodeBuild rejects the buildspec: {message}")
        )
        return False
    except (ValueError, TypeError, RecursionError):
        r.add((), "BS011", Severity.ERROR, "the buildspec cannot be read as CodeBuild reads it")
        return False
    return True


def _path_for(data: dict, message: str) -> Path_:
    for key in ("version", "phases", "env", "artifacts"):
        if key in message and key in data:
            return (key,)
    return ()


# --- follow the commands ------------------------------------------------------------------------------


def buildspec_commands(data: dict) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    phases = data.get("phases") if isinstance(data.get("phases"), dict) else {}
    for phase in PHASES:
        body = phases.get(phase)
        if not isinstance(body, dict):
            continue
        for block in ("commands", "finally"):
            items = body.get(block)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, str):
                    out.append((("phases", phase, block, i), item))
    return out


def _trace(data: dict, ctx: BuildContext) -> _Trace:
    env_section = data.get("env") if isinstance(data.get("env"), dict) else {}
    variables = env_section.get("variables") if isinstance(env_section.get("variables"), dict) else {}
    env = {str(k): str(v) for k, v in variables.items() if isinstance(v, str | int | float)}
    env.update(ctx.variables)  # the project's environment overrides the buildspec's
    trace = _Trace()
    cwd: str | None = ""
    for where, text in buildspec_commands(data):
        cwd = _follow(text, where, text, cwd, env, ctx, trace, depth=0)
    return trace


def _follow(
    text: str,
    where: Path_,
    source: str,
    cwd: str | None,
    env: dict[str, str],
    ctx: BuildContext,
    trace: _Trace,
    depth: int,
) -> str | None:
    parsed = parse_command(text)
    if not parsed.exact:
        trace.opaque.append(source.strip().splitlines()[0][:60] if source.strip() else source)
    for command in parsed.commands:
        for name, value in command.assignments:
            if "$(" in value or "`" in value:
                env.pop(name, None)  # a command's output: unknown here, kept as the reference
            else:
                env[name] = expand(value, env)
        trace.steps.append(_Step(command, where, source, cwd, dict(env)))
        if command.name == "cd":
            cwd = _cd(cwd, command, env)
            continue
        script = _script_of(command)
        if script is not None:
            path = _join(cwd, expand(script, env))
            body = ctx.read_source(path) if path is not None and depth < MAX_SCRIPT_DEPTH else None
            if body is None:
                trace.opaque.append(script)
            else:
                _follow(body, where, source, cwd, env, ctx, trace, depth + 1)
        elif command.name in _OPAQUE or command.is_("docker", "compose"):
            trace.opaque.append(" ".join(command.words[:2]))
    return cwd


def _script_of(command: SimpleCommand) -> str | None:
    if not command.words:
        return None
    first = command.words[0]
    if command.name in _SCRIPT_RUNNERS and len(command.words) > 1 and not command.words[1].startswith("-"):
        return command.words[1]
    if first.startswith(("./", "../")) or (first.endswith(".sh") and "/" in first):
        return first
    return None


_SRC_DIR = re.compile(r"^\$\{?CODEBUILD_SRC_DIR\}?(?=/|$)")


def _join(cwd: str | None, path: str) -> str | None:
    """A path relative to the source root, or None when it is not inside it (or unknown)."""
    anchored = _SRC_DIR.match(path)
    if anchored:
        path, cwd = path[anchored.end() :].lstrip("/") or ".", ""
    elif path.startswith("/"):
        return None
    if unresolved(path) or cwd is None:
        return None
    joined = posixpath.normpath(posixpath.join(cwd, path))
    return None if joined.startswith("..") else joined


def _cd(cwd: str | None, command: SimpleCommand, env: dict[str, str]) -> str | None:
    args = [a for a in command.args() if not a.startswith("-")]
    if not args:
        return None  # cd with no argument goes $HOME
    joined = _join(cwd, expand(args[0], env))
    return None if joined is None else ("" if joined == "." else joined)


def _written(step: _Step) -> list[str]:
    """Files a simple command creates or overwrites (relative to the source root when known)."""
    c = step.command
    targets = [t for op, t in c.redirects if op in (">", ">>", ">|", "&>", "&>>")]
    args = [a for a in c.args() if not a.startswith("-")]
    if c.name in ("tee", "touch"):
        targets += args
    elif c.name in ("cp", "mv", "install", "ln") and len(args) >= 2:
        dest, sources = args[-1], args[:-1]
        recursive = any(w in ("-r", "-R", "-a", "--recursive") for w in c.args())
        if recursive:
            targets.append(dest.rstrip("/") + "/")  # a directory tree lands under dest
        if dest in (".", "./") or dest.endswith("/") or len(sources) > 1:
            targets += [posixpath.join(dest, posixpath.basename(s)) for s in sources]
        else:
            # `cp a out`: out is the file, or out/a when out is a directory
            targets += [dest, posixpath.join(dest, posixpath.basename(sources[0]))]
    elif c.name == "aws" and (c.is_("aws", "s3", "cp") or c.is_("aws", "s3", "sync")) and len(args) >= 4:
        dest = args[-1]
        if not dest.startswith("s3://"):
            if c.is_("aws", "s3", "sync") or "--recursive" in c.words:
                targets.append(dest.rstrip("/") + "/")
            elif dest in (".", "./") or dest.endswith("/"):
                targets.append(posixpath.join(dest, posixpath.basename(args[-2])))
            else:
                targets.append(dest)
    elif c.name == "aws" and c.is_("aws", "s3api", "get-object") and args:
        targets.append(args[-1])
    elif c.name in ("curl", "wget"):
        words = list(c.words)
        for flag in ("-o", "--output", "-O", "--output-document"):
            if flag in words and words.index(flag) + 1 < len(words):
                targets.append(words[words.index(flag) + 1])
    out = []
    for target in targets:
        if target.startswith("/dev/") or target in ("-", ""):
            continue
        tree = target.endswith("/") and target not in ("./", "/")
        joined = _join(step.cwd, expand(target.rstrip("/") or target, step.env))
        if joined is None:
            out.append("?/" + posixpath.basename(target.rstrip("/")))
        else:
            out.append(("/" if joined == "." else joined + "/") if tree else joined)  # "/": the whole source
    return out


# --- BS001 / BS002: artifacts ---------------------------------------------------------------------------


def _sections(data: dict) -> list[tuple[Path_, dict]]:
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict):
        return []
    out: list[tuple[Path_, dict]] = []
    if "files" in artifacts:
        out.append((("artifacts",), artifacts))
    secondary = artifacts.get("secondary-artifacts")
    if isinstance(secondary, dict):
        out += [
            (("artifacts", "secondary-artifacts", k), v) for k, v in secondary.items() if isinstance(v, dict)
        ]
    return out


def _files(section: dict) -> list[tuple[int, str]]:
    files = section.get("files")
    if isinstance(files, str):
        return [(0, files)]
    return [(i, f) for i, f in enumerate(files) if isinstance(f, str)] if isinstance(files, list) else []


def _exports(r: _Rules, data: dict, trace: _Trace) -> None:
    from gitops_harness.artifacts.pipeline_crosscheck import exports

    sections = _sections(data)
    for name in r.ctx.required_exports:
        if not any(exports(s, name) for _, s in sections):
            r.add(
                ("artifacts",) if "artifacts" in data else (),
                "BS001",
                Severity.ERROR,
                f"the deploy action (CodeDeployToECS: taskdef and appspec are here) reads {name}, "
                f"but no artifacts section exports it; add {name} to artifacts.files",
            )
    written = [path for step in trace.steps for path in _written(step)]
    names = {posixpath.basename(p) for p in written if p.startswith("?/")}
    for where, section in sections:
        base = section.get("base-directory", "")
        if not isinstance(base, str) or unresolved(base):
            continue  # a directory named by a variable: its content is unknown here
        base = base.strip("/")
        for i, pattern in _files(section):
            if _GLOB.search(pattern) or unresolved(pattern):
                continue
            path = posixpath.normpath(posixpath.join(base, pattern.removeprefix("./")))
            if r.ctx.source_has(path) or path in written or posixpath.basename(path) in names:
                continue
            if any(
                w.startswith(path + "/") or w == "/" or (w.endswith("/") and path.startswith(w))
                for w in written
            ):
                continue  # a directory the build fills, or one a recursive copy fills
            opaque = trace.opaque
            message = (
                f"{path} is listed in artifacts but no command writes it and the source does not have it"
            )
            if opaque:
                r.add(
                    (*where, "files", i),
                    "BS002",
                    Severity.WARNING,
                    f"{message}, unless {', '.join(dict.fromkeys(opaque))} does; write it in a command "
                    "the buildspec shows",
                )
            else:
                r.add(
                    (*where, "files", i),
                    "BS002",
                    Severity.ERROR,
                    f"{message}: the build fails in UPLOAD_ARTIFACTS or ships without it",
                )


# --- BS003 / BS004 / BS005: what imageDetail.json will contain -------------------------------------------


def _printed(command: SimpleCommand, env: dict[str, str]) -> str | None:
    """The text a printf / echo / cat-heredoc command prints, with the values it formats."""
    if command.name == "printf":
        args = [a for a in command.args() if a != "--"]
        if not args:
            return None
        text, values = args[0], list(args[1:])
        text = re.sub(r"%s", lambda _: values.pop(0) if values else "", text)
        return expand(text, env)
    if command.name == "echo":
        return expand(" ".join(a for a in command.args() if a not in ("-n", "-e")), env)
    heredoc = [t for op, t in command.redirects if op.startswith("<<")]
    if command.name == "cat" and heredoc:
        return expand(heredoc[0], env)
    if command.name == "jq":
        words = list(command.words)
        for i, w in enumerate(words[:-2]):
            if w == "--arg":
                env = {**env, words[i + 1]: words[i + 2]}
        return expand(" ".join(words[1:]), env) if "ImageURI" in " ".join(words) else None
    return None


def _image_detail_uri(r: _Rules, trace: _Trace) -> None:
    for step in trace.steps:
        if not any(posixpath.basename(p) == IMAGE_DETAIL for p in _written(step)):
            continue
        printed = _printed(step.command, step.env)
        match = _IMAGE_URI_VALUE.search(printed or "")
        if match is None:
            continue
        uri = match[1]
        _classify_uri(r, step.where, uri)


def _classify_uri(r: _Rules, where: Path_, uri: str) -> None:
    if uri.strip("${}").isidentifier():
        return  # one variable: nothing to judge
    name, _, digest = uri.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    host = name.split("/", 1)[0] if "/" in name else ""
    if not host and unresolved(name):
        host = "$"  # `$REPOSITORY_URI:tag`: the registry is in the variable
    if digest.startswith("sha256:") or (digest and unresolved(digest)):
        pass  # pinned by digest (or a variable holding it)
    elif tag is None:
        return
    elif tag == "latest":
        r.add(
            where,
            "BS004",
            Severity.WARNING,
            f"imageDetail.json gets {uri}: ':latest' changes under a running service and rollbacks redeploy "
            "whatever it points to now; write the pushed digest (repo@sha256:...)",
        )
    else:
        r.add(
            where,
            "BS003",
            Severity.WARNING,
            f"imageDetail.json gets the tag {uri}, not a digest: a tag can move before the deployment "
            "runs; write repo@$(aws ecr describe-images ... --query 'imageDetails[0].imageDigest')",
        )
    if unresolved(host):
        return
    docker_hub = ("docker.io", "index.docker.io", "registry-1.docker.io")
    if not host or host in docker_hub or ("." not in host and ":" not in host and host != "localhost"):
        registry = "Docker Hub"
    elif ".dkr.ecr." in host:
        return
    else:
        registry = host
    r.add(
        where,
        "BS005",
        Severity.WARNING,
        f"imageDetail.json points at {registry} ({uri}), not ECR: AWS accepts it, but pulls need registry "
        "credentials (repositoryCredentials) or meet Docker Hub's rate limits; push the image to ECR",
    )


# --- BS006 / BS007 / BS008: docker and ECR login ---------------------------------------------------------

_TAG_FLAGS = ("-t", "--tag")


def _built_refs(c: SimpleCommand) -> list[str]:
    words = list(c.words)
    refs: list[str] = []
    if c.is_("docker", "build") or c.is_("docker", "buildx", "build") or c.is_("docker", "image", "build"):
        for i, w in enumerate(words):
            if w in _TAG_FLAGS and i + 1 < len(words):
                refs.append(words[i + 1])
            elif w.startswith("--tag="):
                refs.append(w.split("=", 1)[1])
            elif w.startswith("-t") and len(w) > 2:
                refs.append(w[2:])
    elif c.is_("docker", "tag") or c.is_("docker", "image", "tag"):
        positional = [w for w in words[2:] if not w.startswith("-")]
        refs += positional[-1:] if len(positional) >= 2 else []
    elif c.is_("docker", "pull") or c.is_("docker", "load"):
        refs += [w for w in words[2:] if not w.startswith("-")]
    return refs


def _same_ref(a: str, b: str) -> bool:
    a, b = normal_reference(a), normal_reference(b)
    if a == b:
        return True
    # `docker push repo` (no tag) pushes repo:latest on current Docker; older ones pushed every tag.
    return ":" not in a.rsplit("/", 1)[-1] and b.startswith(a + ":")


def _docker(r: _Rules, trace: _Trace) -> None:
    tagged: list[tuple[str, str]] = []  # (as written, expanded)
    sees_all = not trace.opaque
    for step in trace.steps:
        c = step.command
        if c.name == "aws" and c.is_("aws", "ecr", "get-login"):
            r.add(
                step.where,
                "BS006",
                Severity.ERROR,
                "`aws ecr get-login` was removed in AWS CLI v2, which current CodeBuild images ship: use "
                "`aws ecr get-login-password | docker login --username AWS --password-stdin <registry>`",
            )
        if c.is_("docker", "login"):
            words = list(c.words)
            if any(w in ("-p", "--password") or w.startswith(("--password=", "-p=")) for w in words):
                r.add(
                    step.where,
                    "BS008",
                    Severity.WARNING,
                    "docker login --password puts the password on the command line (process list, build "
                    "log); pipe it in with --password-stdin",
                )
        for ref in _built_refs(c):
            tagged.append((ref, expand(ref, step.env)))
        if c.is_("docker", "push") or c.is_("docker", "image", "push"):
            if "-a" in c.words or "--all-tags" in c.words:
                continue
            refs = [w for w in c.words[2:] if not w.startswith("-")]
            if not refs or not sees_all or "$(" in refs[0] or "`" in refs[0]:
                continue
            ref, expanded = refs[0], expand(refs[0], step.env)
            if any(_same_ref(ref, t) or _same_ref(expanded, e) for t, e in tagged):
                continue
            r.add(
                step.where,
                "BS007",
                Severity.ERROR,
                f"docker push {ref}: no earlier docker build -t / docker tag names that reference, so the "
                "push fails with 'An image does not exist locally'; tag the built image as it is pushed",
            )


# --- BS009: runtime-versions --------------------------------------------------------------------------


def _runtimes(r: _Rules, data: dict) -> None:
    from_template = r.ctx.image is not None
    image = r.ctx.image or codebuild_images.CURRENT_STANDARD_IMAGE
    offered = codebuild_images.runtimes_of(image)
    if offered is None:
        return
    phases = data.get("phases") if isinstance(data.get("phases"), dict) else {}
    for phase, body in phases.items():
        runtimes = body.get("runtime-versions") if isinstance(body, dict) else None
        if not isinstance(runtimes, dict):
            continue
        for name, version in runtimes.items():
            wanted = str(version)
            if unresolved(wanted):
                continue
            where = ("phases", phase, "runtime-versions", name)
            severity = Severity.ERROR if from_template else Severity.WARNING
            whose = (
                f"the project's image {image}" if from_template else f"{image} (the current standard image)"
            )
            if name not in offered:
                r.add(
                    where,
                    "BS009",
                    severity,
                    f"runtime '{name}' is not selectable on {whose}: the INSTALL phase fails "
                    f"(Unknown runtime named '{name}'); "
                    + (
                        "remove it: the Docker engine is always installed"
                        if name == "docker"
                        else f"use one of {', '.join(sorted(offered))}"
                    ),
                )
            elif not codebuild_images.offers(offered[name], wanted):
                r.add(
                    where,
                    "BS009",
                    severity,
                    f"{name}: {wanted} is not offered by {whose}: the INSTALL phase fails; use one of "
                    f"{', '.join(offered[name])} (source: {codebuild_images.SOURCE})",
                )


# --- BS010: hard-coded account ids and regions ------------------------------------------------------------


def _hard_coded(r: _Rules, data: dict, trace: _Trace) -> None:
    env = data.get("env") if isinstance(data.get("env"), dict) else {}
    variables = env.get("variables") if isinstance(env.get("variables"), dict) else {}
    places: list[tuple[Path_, str]] = [
        (("env", "variables", k), str(v)) for k, v in variables.items() if isinstance(v, str | int)
    ]
    places += buildspec_commands(data)
    for where, text in places:
        account = _ACCOUNT.search(text)
        region = _REGION.search(text)
        if account:
            r.add(
                where,
                "BS010",
                Severity.WARNING,
                f"hard-coded account id {account[0]}: the buildspec breaks in any other account; use "
                "$AWS_ACCOUNT_ID from the project's environment (or "
                "$(aws sts get-caller-identity --query Account --output text))",
            )
        if region:
            r.add(
                where,
                "BS010",
                Severity.WARNING,
                f"hard-coded region {region[0]}: use $AWS_DEFAULT_REGION (CodeBuild sets it to the "
                "build's region)",
            )


# --- placeholders the build fills itself ------------------------------------------------------------------


_SED_EXPR = re.compile(r"^s(?P<d>[^\w\s\\])(?P<pattern>(?:\\.|(?!(?P=d)).)*)(?P=d)")


def filled_placeholders(doc: Document | None, target: str) -> set[str]:
    """Literal texts the buildspec's sed commands replace in `target` (e.g. <EXECUTION_ROLE>)."""
    if doc is None or not isinstance(doc.data, dict):
        return set()
    found: set[str] = set()
    for _, text in buildspec_commands(doc.data):
        for c in parse_command(text).commands:
            if c.name != "sed":
                continue
            words = list(c.args())
            exprs: list[str] = []
            files: list[str] = []
            i = 0
            while i < len(words):
                w = words[i]
                if w in ("-e", "--expression") and i + 1 < len(words):
                    exprs.append(words[i + 1])
                    i += 2
                    continue
                if w.startswith("-"):
                    i += 1
                    continue
                (files if exprs else exprs).append(w)
                i += 1
            if not any(posixpath.basename(f) == posixpath.basename(target) for f in files):
                continue
            for expr in exprs:
                for part in expr.split(";"):
                    match = _SED_EXPR.match(part.strip())
                    if match is None:
                        continue
                    pattern = re.sub(r"\\(.)", r"\1", match["pattern"])
                    if pattern and "$" not in pattern and not re.search(r"[.*\[\]^]", pattern):
                        found.add(pattern)
    return found


def fill_placeholders(data: Any, placeholders: set[str]) -> Any:
    """`data` with each placeholder replaced by ${NAME}, the form the taskdef rules accept as filled later."""
    if not placeholders:
        return data
    if isinstance(data, dict):
        return {k: fill_placeholders(v, placeholders) for k, v in data.items()}
    if isinstance(data, list):
        return [fill_placeholders(v, placeholders) for v in data]
    if isinstance(data, str):
        for placeholder in placeholders:
            if placeholder in data:
                name = re.sub(r"\W+", "_", placeholder).strip("_") or "FILLED"
                data = data.replace(placeholder, "${" + name + "}")
    return data
