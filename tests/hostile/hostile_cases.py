"""The hostile-input corpus: bad input a user (or a merge request) hands each command, with the exit code
and the one line each must answer with. Inputs are written by code at test time (the large ones too:
a template over 1 MB, a 100,000-container task definition), so the repository holds none of them.

A case's `files` maps a path under the case's own folder to its content (str, bytes, or None for a
folder); `argv` may use {dir} for that folder; `expect` is text the one answering line must contain.
Exit 1 answers on stdout (a finding line), exit 2 and 3 on stderr (an error line).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
Content = str | bytes | None


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    exit_code: int
    expect: str
    files: dict[str, Content] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None  # for inputs that are not plain files (a busy port, ...)


# ---- generated inputs -----------------------------------------------------------------------------

GOOD_TEMPLATE = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n"


def big_template() -> str:
    """Over CloudFormation's 1 MB template limit (the probe's 5 MB one hung the gate past 120 s)."""
    return "Resources:\n" + "".join(f"  Topic{i}:\n    Type: AWS::SNS::Topic\n" for i in range(40_000))


def alias_bomb(head: str, tail: str) -> str:
    """Nine levels of nine aliases: a few hundred bytes that expand to 9**9 values."""
    lines = [head, "a: &a [x, x, x, x, x, x, x, x, x]"]
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    lines.append(tail.format(last=previous))
    return "\n".join(lines) + "\n"


def deep_yaml(depth: int = 20_000) -> str:
    return "Resources: " + "[" * depth + "]" * depth + "\n"


def many_containers(count: int = 100_000) -> str:
    containers = [{"name": "c", "image": "i"} for _ in range(count)]
    return json.dumps({"family": "x", "containerDefinitions": containers}, separators=(",", ":"))


def taskdef() -> str:
    return json.dumps(
        {
            "family": "app",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "executionRoleArn": "arn:aws:iam::222222222222:role/exec",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": "<IMAGE1_NAME>",
                    "essential": True,
                    "portMappings": [{"containerPort": 8080}],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": "/ecs/app",
                            "awslogs-region": "us-east-1",
                            "awslogs-stream-prefix": "app",
                        },
                    },
                }
            ],
        }
    )


APPSPEC = (
    "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
    "        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n"
    "          ContainerName: app\n          ContainerPort: 8080\n"
)


def pipeline_template(taskdef_path: str) -> str:
    """A pipeline template whose CodeDeployToECS action names taskdef_path."""
    return f"""Resources:
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      RoleArn: arn:aws:iam::222222222222:role/p
      Stages:
        - Name: Deploy
          Actions:
            - Name: Deploy
              ActionTypeId: {{Category: Deploy, Owner: AWS, Provider: CodeDeployToECS, Version: "1"}}
              InputArtifacts: [{{Name: BuildOutput}}]
              Configuration:
                ApplicationName: app
                DeploymentGroupName: dg
                TaskDefinitionTemplateArtifact: BuildOutput
                TaskDefinitionTemplatePath: {taskdef_path}
                AppSpecTemplateArtifact: BuildOutput
                AppSpecTemplatePath: appspec.yml
"""


def artifacts(**overrides: Content) -> dict[str, Content]:
    """A source directory whose buildspec exports what the deploy action reads (the buildspec rules find
    nothing), with the given files replaced."""
    files: dict[str, Content] = {
        "app/taskdef.json": taskdef(),
        "app/appspec.yml": APPSPEC,
        "app/buildspec.yml": (
            "version: 0.2\nphases:\n  build:\n    commands:\n"
            "      - echo ImageURI > imageDetail.json\n"
            "artifacts:\n  files: [taskdef.json, appspec.yml, imageDetail.json]\n"
        ),
    }
    files.update({f"app/{name}": content for name, content in overrides.items()})
    return {k: v for k, v in files.items() if v != "<delete>"}


def busy_port(folder: Path) -> None:
    """Bind a port and write its number where the case's argv reads it (the parent keeps it bound)."""
    import socket

    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    BUSY_SOCKETS.append(held)
    (folder / "port").write_text(str(held.getsockname()[1]))


BUSY_SOCKETS: list = []  # closed by the test module at the end


# ---- the corpus -----------------------------------------------------------------------------------


def policy(case_id: str, content: Content, exit_code: int, expect: str, name: str = "t.yaml") -> Case:
    files = {f"templates/{name}": content}
    return Case(
        f"policy-{case_id}",
        ("policy", f"{{dir}}/templates/{name}", "--output-dir", "{dir}/reports"),
        exit_code,
        expect,
        files,
    )


PARSE = "GITOPS_TEMPLATE_PARSE cannot parse template"
POLICY_CASES = [
    policy(
        "duplicate-keys",
        "Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n",
        1,
        f"t.yaml:4 {PARSE}: duplicate key 'A'",
    ),
    policy(
        "duplicate-keys-json",
        '{"Resources": {"A": {"Type": "X"}, "A": {}}}',
        1,
        f"{PARSE}: duplicate key 'A'",
        "t.json",
    ),
    policy(
        "duplicate-nested-keys",
        "Resources:\n  A:\n    Type: X\n    Type: Y\n",
        1,
        f"t.yaml:4 {PARSE}: duplicate key 'Type'",
    ),
    policy("unclosed-flow", "Resources:\n  A:\n    Type: [unclosed\n", 1, f"t.yaml:4 {PARSE}"),
    policy("tab-indent", "Resources:\n\tA:\n\t\tType: X\n", 1, f"t.yaml:2 {PARSE}"),
    policy("bad-indent", "Resources:\n  A:\n    Type: X\n   Properties: {}\n", 1, PARSE),
    policy(
        "unknown-tag", "Resources:\n  A:\n    Type: !Bogus x\n", 1, f"t.yaml:3 {PARSE}: unknown tag !Bogus"
    ),
    policy(
        "unknown-tag-mapping",
        "Resources:\n  A: !Foo\n    Type: X\n",
        1,
        f"t.yaml:2 {PARSE}: unknown tag !Foo",
    ),
    policy(
        "python-tag",
        "Resources:\n  A: !!python/object:os.system {}\n",
        1,
        f"t.yaml:2 {PARSE}: unknown tag !!python/object",
    ),
    policy("non-utf8", b"Resources:\n  A:\n    Type: \xff\xfe\n", 1, f"t.yaml:3 {PARSE}: not UTF-8"),
    policy("utf16", "Resources:\n  A:\n    Type: X\n".encode("utf-16"), 1, f"t.yaml:1 {PARSE}: not UTF-8"),
    policy(
        "latin1", "Resources:\n  A:\n    Type: caf\xe9\n".encode("latin-1"), 1, f"t.yaml:3 {PARSE}: not UTF-8"
    ),
    policy("empty", "", 1, f"t.yaml:1 {PARSE}: the top level is empty"),
    policy("only-comments", "# Resources: none\n", 1, f"t.yaml:1 {PARSE}: the top level is empty"),
    policy("top-level-list", "- Resources\n", 1, f"t.yaml:1 {PARSE}: the top level is a list"),
    policy("top-level-scalar", "Resources\n", 1, f"t.yaml:1 {PARSE}: the top level is a value"),
    policy("resources-number", "Resources: 5\n", 1, f"{PARSE}: Resources is a value, not a mapping"),
    policy("resources-list", "Resources: [a, b]\n", 1, f"{PARSE}: Resources is a list"),
    policy("resources-null", "Resources:\n", 1, f"{PARSE}: no Resources section"),
    policy(
        "no-resources",
        "AWSTemplateFormatVersion: '2010-09-09'\nOutputs: {}\n",
        1,
        f"{PARSE}: no Resources section",
    ),
    policy("over-1mb", big_template(), 1, f"t.yaml:1 {PARSE}: 1,"),
    policy(
        "alias-bomb",
        alias_bomb("Resources:", "  B: {{Type: X, Properties: {{P: *{last}}}}}").replace("\na:", "\n  a:"),
        1,
        PARSE,
    ),
    policy("deep-nesting", deep_yaml(), 1, PARSE),
    policy("null-byte", "Resources:\n  A:\n    Type: X\x00\n", 1, PARSE),
    policy("control-char", "Resources:\n  A:\n    Type: X\x07\n", 1, PARSE),
    policy("json-trailing-garbage", '{"Resources": {"A": {"Type": "X"}}} extra', 1, PARSE, "t.json"),
    policy("json-truncated", '{"Resources": {"A": {"Type": "X"', 1, PARSE, "t.json"),
    policy("two-documents", "Resources:\n  A:\n    Type: X\n---\nResources: {}\n", 1, PARSE),
    policy("complex-key", "Resources:\n  ? [a, b]\n  : Type: X\n", 1, PARSE),
    policy("long-line", "Resources:\n  A:\n    Type: [" + "x, " * 200_000 + "\n", 1, PARSE),
    Case(
        "policy-missing-path",
        ("policy", "{dir}/nope", "--output-dir", "{dir}/r"),
        2,
        "nope: no such file or directory",
    ),
    Case(
        "policy-empty-dir",
        ("policy", "{dir}/templates", "--output-dir", "{dir}/r"),
        2,
        "no CloudFormation templates found",
        {"templates": None},
    ),
    Case(
        "policy-only-parameter-files",
        ("policy", "{dir}/templates", "--output-dir", "{dir}/r"),
        2,
        "skipped, not templates:",
        {"templates/params.json": '[{"ParameterKey": "A"}]', "templates/notes.yaml": "a: b\n"},
    ),
    Case(
        "policy-output-dir-is-a-file",
        ("policy", "{dir}/templates/bad.yaml", "--output-dir", "{dir}/file"),
        2,
        "cannot write reports",
        {"templates/bad.yaml": "Resources: 5\n", "file": "x"},
    ),
    Case(
        "policy-policies-dir-missing",
        ("policy", "{dir}/t.yaml", "--policies-dir", "{dir}/nope", "--output-dir", "{dir}/r"),
        3,
        "custom checks not found",
        {"t.yaml": GOOD_TEMPLATE},
    ),
    Case("policy-bad-format", ("policy", "--format", "xml"), 2, "invalid choice: 'xml'"),
]


def artifact_case(case_id: str, files: dict[str, Content], exit_code: int, expect: str, *extra: str) -> Case:
    return Case(
        f"validate-artifacts-{case_id}", ("validate-artifacts", "{dir}/app", *extra), exit_code, expect, files
    )


ARTIFACT_CASES = [
    artifact_case("missing-dir", {}, 2, "app: not a directory"),
    artifact_case("dir-is-a-file", {"app": "x"}, 2, "app: not a directory"),
    artifact_case(
        "taskdef-is-a-directory", artifacts(**{"taskdef.json": None}), 2, "taskdef.json: is a directory"
    ),
    artifact_case(
        "appspec-is-a-directory", artifacts(**{"appspec.yml": None}), 2, "appspec.yml: is a directory"
    ),
    artifact_case(
        "taskdef-not-json",
        artifacts(**{"taskdef.json": "{family: x"}),
        2,
        "taskdef.json:1: cannot parse JSON",
    ),
    artifact_case("taskdef-non-utf8", artifacts(**{"taskdef.json": b'{"family": "\xff"}'}), 2, "not UTF-8"),
    artifact_case("taskdef-list", artifacts(**{"taskdef.json": "[1, 2]"}), 1, "TD001"),
    artifact_case(
        "taskdef-100k-containers",
        artifacts(**{"taskdef.json": many_containers()}),
        1,
        "TD023: 100,000 container definitions",
    ),
    artifact_case(
        "taskdef-over-3mb",
        artifacts(**{"taskdef.json": many_containers(150_000)}),
        2,
        "CodeDeployToECS input artifacts are limited to 3 MB",
    ),
    artifact_case(
        "taskdef-deep-nesting",
        artifacts(**{"taskdef.json": "[" * 100_000 + "]" * 100_000}),
        2,
        "nested too deeply",
    ),
    artifact_case(
        "taskdef-nan", artifacts(**{"taskdef.json": taskdef().replace('"256"', "NaN")}), 1, "TD010: cpu nan"
    ),
    artifact_case(
        "taskdef-duplicate-keys",
        artifacts(**{"taskdef.json": taskdef().replace('"family": "app"', '"family": "a", "family": "b"')}),
        1,
        "DOC001",
    ),
    artifact_case(
        "appspec-alias-bomb",
        artifacts(**{"appspec.yml": alias_bomb("version: 0.0", "Resources: [*{last}]")}),
        2,
        "aliases expand to more than 100,000 values",
    ),
    artifact_case(
        "appspec-deep-nesting",
        artifacts(**{"appspec.yml": "version: 0.0\nResources: " + "[" * 20_000 + "]" * 20_000 + "\n"}),
        2,
        "appspec.yml",
    ),
    artifact_case(
        "appspec-python-tag",
        artifacts(**{"appspec.yml": "version: !!python/object:os.system {}\n"}),
        2,
        "appspec.yml:1: cannot parse YAML",
    ),
    artifact_case(
        "appspec-tabs",
        artifacts(**{"appspec.yml": "version: 0.0\nResources:\n\tbad: tab\n"}),
        2,
        "appspec.yml:3: cannot parse YAML",
    ),
    artifact_case("appspec-empty", artifacts(**{"appspec.yml": ""}), 1, "appspec.yml"),
    artifact_case(
        "appspec-duplicate-keys", artifacts(**{"appspec.yml": APPSPEC + "version: 0.0\n"}), 1, "DOC001"
    ),
    artifact_case(
        "appspec-control-char", artifacts(**{"appspec.yml": "version: 0.0\x07\n"}), 2, "cannot parse YAML"
    ),
    artifact_case(
        "imagedetail-not-json",
        artifacts(**{"imageDetail.json": "ImageURI"}),
        2,
        "imageDetail.json:1: cannot parse JSON",
    ),
    artifact_case("imagedetail-list", artifacts(**{"imageDetail.json": "[]"}), 1, "imageDetail.json"),
    artifact_case(
        "template-path-leaves-directory",
        {**artifacts(), "pipeline.yaml": pipeline_template("../../../../etc/hostname")},
        2,
        "'../../../../etc/hostname' leads outside",
        "--template",
        "{dir}/pipeline.yaml",
    ),
    artifact_case(
        "template-path-absolute",
        {**artifacts(), "pipeline.yaml": pipeline_template("/etc/hostname")},
        2,
        "'/etc/hostname' leads outside",
        "--template",
        "{dir}/pipeline.yaml",
    ),
    artifact_case("template-missing", artifacts(), 2, "template not found", "--template", "{dir}/none.yaml"),
    artifact_case(
        "template-broken",
        {**artifacts(), "pipeline.yaml": "Resources:\n  A: [\n"},
        2,
        "pipeline.yaml:3: cannot parse template",
        "--template",
        "{dir}/pipeline.yaml",
    ),
    artifact_case(
        "template-unknown-tag",
        {**artifacts(), "pipeline.yaml": "Resources:\n  A: !Bogus x\n"},
        2,
        "pipeline.yaml:2: cannot parse template: unknown tag !Bogus",
        "--template",
        "{dir}/pipeline.yaml",
    ),
    artifact_case(
        "template-without-deploy-action",
        {**artifacts(), "pipeline.yaml": GOOD_TEMPLATE},
        2,
        "no pipeline action with Provider CodeDeployToECS",
        "--template",
        "{dir}/pipeline.yaml",
    ),
    artifact_case(
        "junit-parent-is-a-file",
        {**artifacts(), "file": "x"},
        2,
        "cannot write the JUnit report",
        "--junit",
        "{dir}/file/junit.xml",
    ),
]


def config_case(
    case_id: str, text: Content, expect: str, *extra: str, files: dict[str, Content] | None = None
) -> Case:
    return Case(
        f"run-{case_id}",
        ("run", "--config", "{dir}/harness.yaml", "--quiet", *extra),
        2,
        expect,
        {"harness.yaml": text, **(files or {})},
    )


def project(**overrides: Content) -> dict[str, Content]:
    """The files a config that passes validation names: templates and an app folder."""
    files: dict[str, Content] = {
        "fixtures/pipeline/management-account.yaml": GOOD_TEMPLATE,
        "fixtures/pipeline/pipeline-account.yaml": GOOD_TEMPLATE,
        "fixtures/app/taskdef.json": taskdef(),
    }
    files.update(overrides)
    return {k: v for k, v in files.items() if v != "<delete>"}


RUN_CASES = [
    config_case("non-utf8", b"project: caf\xe9\n", "harness.yaml:1: cannot read the config: not UTF-8"),
    config_case(
        "templates-not-a-mapping", "pipeline: {templates: hello}\n", "pipeline.templates must be a mapping"
    ),
    config_case(
        "port-not-a-number",
        "targets:\n  embedded: {port: lots}\n",
        "harness.yaml:2: targets.embedded.port must be a port number",
    ),
    config_case(
        "port-out-of-range",
        "targets:\n  embedded: {port: 70000}\n",
        "targets.embedded.port must be a port number",
    ),
    config_case(
        "port-boolean", "targets:\n  embedded: {port: true}\n", "targets.embedded.port must be a port number"
    ),
    config_case(
        "time-scale-negative",
        "targets:\n  embedded: {time_scale: -5}\n",
        "targets.embedded.time_scale must be a number > 0",
    ),
    config_case(
        "time-scale-infinite",
        "targets:\n  embedded: {time_scale: .inf}\n",
        "targets.embedded.time_scale must be a number > 0",
    ),
    config_case(
        "typo-top-level",
        "project: x\nregoin: us-east-1\n",
        "harness.yaml:2: unknown key 'regoin'; did you mean 'region'?",
    ),
    config_case(
        "typo-nested",
        "app:\n  dri: fixtures/app\n",
        "harness.yaml:2: unknown key 'app.dri'; did you mean 'app.dir'?",
    ),
    config_case("unknown-section", "pipline: {}\n", "unknown key 'pipline'; did you mean 'pipeline'?"),
    config_case(
        "account-fullwidth-digits",
        "accounts: {management: '\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11'}\n",
        "accounts.management must be a 12-digit account id",
    ),
    config_case(
        "account-trailing-newline",
        'accounts: {management: "111111111111\\n"}\n',
        "accounts.management must be a 12-digit account id",
    ),
    config_case(
        "account-too-short",
        "accounts: {pipeline: '12345'}\n",
        "accounts.pipeline must be a 12-digit account id",
    ),
    config_case(
        "accounts-equal", "accounts: {management: '111111111111', pipeline: '111111111111'}\n", "must differ"
    ),
    config_case("region-bogus", "region: mars-1\n", "region must be an AWS region"),
    config_case("policy-paths-empty", "policy: {paths: []}\n", "policy.paths must be a list"),
    config_case("default-target-unknown", "targets: {default: mars}\n", "targets.default must be one of"),
    config_case(
        "localstack-endpoint-not-url",
        "targets:\n  localstack: {endpoint: localhost}\n",
        "targets.localstack.endpoint must be an http(s) URL",
    ),
    config_case("top-level-list", "- project\n", "the config must be a mapping"),
    config_case("broken-yaml", "accounts: [\n", "cannot parse YAML"),
    config_case("deep-nesting", "project: " + "[" * 20_000 + "]" * 20_000 + "\n", "harness.yaml"),
    config_case("alias-bomb", alias_bomb("project: x", "extra: *{last}"), "unknown key 'a'"),
    config_case(
        "missing-template",
        "pipeline:\n  templates: {pipeline: nowhere.yaml}\n",
        "pipeline.templates.pipeline: nowhere.yaml is not a file",
        files=project(),
    ),
    config_case(
        "missing-app-dir",
        "app: {dir: no-app}\n",
        "app.dir: no-app is not a folder",
        files=project(),
    ),
    config_case(
        "target-localstack-unreachable",
        "project: x\ntargets:\n  localstack:\n    endpoint: http://127.0.0.1:9\n",
        "no LocalStack answers at http://127.0.0.1:9/_localstack/health",
        "--target",
        "localstack",
        files=project(),
    ),
    config_case(
        "target-localstack-host-without-venv",
        "project: x\ntargets:\n  localstack:\n    start: host\n    venv: no-such-venv\n",
        "targets.localstack.start: host needs LocalStack's venv",
        "--target",
        "localstack",
        files=project(),
    ),
    Case("run-config-missing", ("run", "--config", "{dir}/none.yaml"), 2, "none.yaml: config file not found"),
    Case("run-config-is-a-directory", ("run", "--config", "{dir}/conf"), 2, "is a directory", {"conf": None}),
    Case("run-target-not-a-choice", ("run", "--target", "mars"), 2, "invalid choice: 'mars'"),
]


def emulator_case(case_id: str, exit_code: int, expect: str, *argv: str, **kwargs: object) -> Case:
    return Case(f"emulator-{case_id}", ("emulator", *argv), exit_code, expect, **kwargs)  # type: ignore[arg-type]


EMULATOR_CASES = [
    emulator_case(
        "state-dir-is-a-file", 2, "--state-dir", "--port", "0", "--state-dir", "{dir}/f", files={"f": "x"}
    ),
    emulator_case(
        "state-dir-cannot-be-created",
        2,
        "cannot create it",
        "--port",
        "0",
        "--state-dir",
        "{dir}/f/sub",
        files={"f": "x"},
    ),
    emulator_case("port-in-use", 3, "the port is in use", "--port", "{port}", setup=busy_port),
    emulator_case(
        "host-not-a-host",
        2,
        "--host not-a-host.invalid: not an address to listen on",
        "--port",
        "0",
        "--host",
        "not-a-host.invalid",
    ),
    emulator_case(
        "host-not-local", 2, "--host 192.0.2.1: cannot listen there", "--port", "0", "--host", "192.0.2.1"
    ),
    emulator_case("time-scale-inf", 2, "--time-scale must be > 0 and finite, got inf", "--time-scale", "inf"),
    emulator_case("time-scale-nan", 2, "--time-scale must be > 0 and finite, got nan", "--time-scale", "nan"),
    emulator_case("time-scale-negative", 2, "--time-scale must be > 0", "--time-scale", "-1"),
    emulator_case("time-scale-zero", 2, "--time-scale must be > 0", "--time-scale", "0"),
    emulator_case("port-too-big", 2, "--port must be 0..65535", "--port", "70000"),
    emulator_case("port-negative", 2, "--port must be 0..65535", "--port", "-1"),
    emulator_case("port-not-a-number", 2, "invalid int value: 'abc'", "--port", "abc"),
    emulator_case(
        "config-broken", 2, "cannot parse YAML", "--config", "{dir}/h.yaml", files={"h.yaml": "accounts: [\n"}
    ),
]

CASES = POLICY_CASES + ARTIFACT_CASES + RUN_CASES + EMULATOR_CASES
