"""Properties of the buildspec rules, in hypothesis's style: generated buildspecs that build, push and
write imageDetail.json correctly pass with no findings; each catalogued mutation is reported with its rule
and severity; arbitrary commands never crash the rules."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from artifact_strategies import PER_MUTATION, PROPERTY
from gitops_harness.artifacts.validate import validate_files
from gitops_harness.findings import Finding, Severity

APP = Path(__file__).parents[1] / "fixtures" / "app"
SOURCE = {name: (APP / name).read_bytes() for name in ("taskdef.json", "appspec.yml")}


@dataclass
class Spec:
    """A buildspec as parts, so mutations can change one part and keep the rest consistent."""

    repo: str
    tag: str
    login: str
    build: list[str]
    push: str
    digest: str
    write: str
    phases: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    runtimes: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    discard: bool = False
    version: Any = 0.2

    def document(self) -> dict:
        phases: dict[str, Any] = {}
        order = [self.login, *self.build, self.push, self.digest, self.write]
        for name, commands in self.phases.items():
            phases[name] = {"commands": [c for c in commands if c in order or c.startswith("echo")]}
        if self.runtimes:
            phases.setdefault("install", {})["runtime-versions"] = self.runtimes
        doc: dict[str, Any] = {"version": self.version}
        if self.env:
            doc["env"] = {"variables": self.env}
        doc["phases"] = {k: phases[k] for k in ("install", "pre_build", "build", "post_build") if k in phases}
        doc["artifacts"] = {"files": self.files, **({"discard-paths": "yes"} if self.discard else {})}
        return doc

    def files_(self) -> dict[str, bytes]:
        return {**SOURCE, "buildspec.yml": yaml.safe_dump(self.document(), sort_keys=False).encode()}

    def replace(self, old: str, new: str) -> None:
        for commands in self.phases.values():
            commands[:] = [new if c == old else c for c in commands]
        for attr in ("login", "push", "digest", "write"):
            if getattr(self, attr) == old:
                setattr(self, attr, new)
        self.build = [new if c == old else c for c in self.build]


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    repo = draw(st.sampled_from(["REPOSITORY_URI", "REPO_URI", "ECR_REPOSITORY_URL"]))
    tag = draw(st.sampled_from(["IMAGE_TAG", "TAG", "COMMIT"]))
    r, t = f'"${{{repo}}}', f'${{{tag}}}"'
    login = draw(
        st.sampled_from(
            [
                f'aws ecr get-login-password | docker login --username AWS --password-stdin "${{{repo}%%/*}}"',
                'aws ecr get-login-password --region "$AWS_DEFAULT_REGION" | docker login -u AWS '
                f'--password-stdin "${repo}"',
            ]
        )
    )
    if draw(st.booleans()):
        build = [f"docker build --tag {r}:{t} ."]
    else:
        build = ["docker build -t app:build .", f"docker tag app:build {r}:{t}"]
    push = f"docker push {r}:{t}"
    digest = (
        'DIGEST="$(aws ecr describe-images --repository-name "${REPOSITORY_NAME}" '
        f'--image-ids imageTag="${tag}" --query \'imageDetails[0].imageDigest\' --output text)"'
    )
    write = draw(
        st.sampled_from(
            [
                f'printf \'{{"ImageURI":"%s"}}\' "${repo}@$DIGEST" > imageDetail.json',
                f'echo "{{\\"ImageURI\\": \\"${repo}@$DIGEST\\"}}" > imageDetail.json',
                f'printf \'{{"ImageURI":"%s"}}\\n\' "${{{repo}}}@${{DIGEST}}" | tee imageDetail.json',
            ]
        )
    )
    # Commands in order, split over the phases at two drawn points.
    order = [login, *build, push, digest, write]
    cut1 = draw(st.integers(0, len(order)))
    cut2 = draw(st.integers(cut1, len(order)))
    phases = {"pre_build": order[:cut1], "build": order[cut1:cut2], "post_build": order[cut2:]}
    phases = {k: v for k, v in phases.items() if v}
    if draw(st.booleans()):
        phases.setdefault("build", []).insert(0, "echo Build started on `date`")
    env = {"DOCKER_BUILDKIT": "1"} if draw(st.booleans()) else {}
    runtimes = draw(
        st.sampled_from([{}, {"nodejs": 20}, {"python": 3.12}, {"nodejs": "22.x", "python": "3.13"}])
    )
    files = draw(st.permutations(["taskdef.json", "appspec.yml", "imageDetail.json"]))
    return Spec(
        repo, tag, login, build, push, digest, write, phases, env, runtimes, list(files), draw(st.booleans())
    )


def run(spec: Spec) -> list[Finding]:
    return validate_files(spec.files_())


def _image_uri(value: Callable[[Spec], str]) -> Callable[[Spec], None]:
    def mutate(s: Spec) -> None:
        s.replace(s.write, f'printf \'{{"ImageURI":"%s"}}\' "{value(s)}" > imageDetail.json')

    return mutate


def _drop_writer(s: Spec) -> None:
    s.replace(s.write, "echo image pushed")


def _unexported(s: Spec) -> None:
    s.files.remove("imageDetail.json")


def _push_untagged(s: Spec) -> None:
    s.replace(s.push, f'docker push "${s.repo}:release"')


def _password_on_command_line(s: Spec) -> None:
    s.replace(s.login, f'docker login -u AWS -p "$(aws ecr get-login-password)" "${s.repo}"')


def _hard_coded_account(s: Spec) -> None:
    s.env["AWS_ACCOUNT_ID"] = "123456789012"


def _hard_coded_region(s: Spec) -> None:
    s.replace(
        s.login,
        s.login.replace("aws ecr get-login-password", "aws ecr get-login-password --region eu-west-1"),
    )


MUTATIONS: dict[str, tuple[Callable[[Spec], None], str, Severity]] = {
    "imageDetail.json not exported": (_unexported, "BS001", Severity.ERROR),
    "imageDetail.json listed but never written": (_drop_writer, "BS002", Severity.ERROR),
    "ImageURI by tag": (_image_uri(lambda s: f"${s.repo}:${s.tag}"), "BS003", Severity.WARNING),
    "ImageURI :latest": (_image_uri(lambda s: f"${s.repo}:latest"), "BS004", Severity.WARNING),
    "ImageURI on Docker Hub": (_image_uri(lambda s: "acme/app@$DIGEST"), "BS005", Severity.WARNING),
    "aws ecr get-login": (
        lambda s: s.replace(s.login, "$(aws ecr get-login --no-include-email)"),
        "BS006",
        Severity.ERROR,
    ),
    "push of a reference never tagged": (_push_untagged, "BS007", Severity.ERROR),
    "docker login --password": (_password_on_command_line, "BS008", Severity.WARNING),
    "runtime docker: 18": (lambda s: s.runtimes.update(docker=18), "BS009", Severity.WARNING),
    "runtime nodejs: 12": (lambda s: s.runtimes.update(nodejs=12), "BS009", Severity.WARNING),
    "hard-coded account id": (_hard_coded_account, "BS010", Severity.WARNING),
    "hard-coded region": (_hard_coded_region, "BS010", Severity.WARNING),
    "buildspec version 0.3": (lambda s: setattr(s, "version", 0.3), "BS011", Severity.ERROR),
}


@PROPERTY
@given(specs())
def test_generated_buildspecs_pass_with_no_findings(spec: Spec) -> None:
    assert [f.one_line() for f in run(spec)] == []


@pytest.mark.parametrize("name", list(MUTATIONS))
@PER_MUTATION
@given(specs())
def test_mutation_is_reported(name: str, spec: Spec) -> None:
    mutate, rule, severity = MUTATIONS[name]
    mutated = copy.deepcopy(spec)
    mutate(mutated)
    findings = run(mutated)
    assert any(f.rule_id == rule and f.severity is severity for f in findings), (name, findings)


shell_words = st.sampled_from(
    [
        "docker",
        "push",
        "build",
        "-t",
        "tag",
        "aws",
        "ecr",
        "get-login",
        "printf",
        "echo",
        ">",
        ">>",
        "|",
        "&&",
        ";",
        "cd",
        "..",
        "imageDetail.json",
        '"$X"',
        '\'{"ImageURI":"%s"}\'',
        "$(",
        ")",
        "[[",
        "]]",
        "`",
        "<<EOF",
        "sed",
        "-i",
        "s|<A>|b|g",
        "taskdef.json",
        "./x.sh",
        "bash",
        "${X:-y}",
        "$((1+2))",
        "for",
        "in",
        "do",
        "done",
    ]
)


@PROPERTY
@given(st.lists(st.lists(shell_words, min_size=1, max_size=12).map(" ".join), min_size=1, max_size=6))
def test_arbitrary_commands_never_crash(commands: list[str]) -> None:
    buildspec = {
        "version": 0.2,
        "phases": {"build": {"commands": commands}},
        "artifacts": {"files": ["imageDetail.json"]},
    }
    files = {**SOURCE, "buildspec.yml": yaml.safe_dump(buildspec).encode()}
    assert all(isinstance(f, Finding) for f in validate_files(files))
