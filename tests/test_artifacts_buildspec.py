"""The buildspec rules (BS000-BS011): each rule's pass and fail fixture under
tests/artifact_fixtures/buildspecs (expected rule, severity and line in each file's `# expect:` header),
and the template-driven cases (project BuildSpec paths, inline buildspecs, images, secondary artifacts,
placeholders the build fills)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from gitops_harness.artifacts.shell_commands import parse_command
from gitops_harness.artifacts.validate import validate_directory, validate_files
from gitops_harness.cfn_template import load_template
from gitops_harness.findings import Finding, Severity

ROOT = Path(__file__).parents[1]
APP = ROOT / "fixtures" / "app"
FIXTURES = Path(__file__).parent / "artifact_fixtures" / "buildspecs"
TEMPLATE = Path(__file__).parent / "artifact_fixtures" / "pipeline.yaml"
_EXPECT = re.compile(r"^# expect: (BS\d{3}) (error|warning) line (\d+)$", re.MULTILINE)


def expected(text: str) -> set[tuple[str, Severity, str]]:
    return {(m[1], Severity(m[2]), f"line {m[3]}") for m in _EXPECT.finditer(text)}


def seen(findings: list[Finding]) -> set[tuple[str, Severity, str]]:
    return {(f.rule_id, f.severity, f.location) for f in findings}


def source_dir(tmp_path: Path, buildspec: str, name: str = "buildspec.yml") -> Path:
    for member in ("taskdef.json", "appspec.yml"):
        shutil.copy(APP / member, tmp_path / member)
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(buildspec)
    return tmp_path


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.yml")))
def test_fixture_reports_exactly_what_it_expects(tmp_path: Path, fixture: str) -> None:
    text = (FIXTURES / fixture).read_text()
    findings = validate_directory(source_dir(tmp_path, text))
    assert seen(findings) == expected(text), [f.one_line() for f in findings]
    if "fail" in fixture:
        assert expected(text), f"{fixture} expects nothing: a fail fixture must name its finding"
        rule = fixture.split("-")[0]
        assert any(f.rule_id == rule for f in findings)


def test_every_rule_has_a_pass_and_a_fail_fixture_and_a_doc_entry() -> None:
    rules = {f"BS{n:03d}" for n in range(1, 12)}
    for kind in ("fail", "pass"):
        fixtures = {p.name.split("-")[0] for p in FIXTURES.glob(f"BS*-{kind}.yml")}
        assert rules <= fixtures, (kind, rules - fixtures)
    doc = (ROOT / "docs" / "artifact-rules.md").read_text()
    assert all(f"| {rule} |" in doc for rule in rules | {"BS000"})


def test_reference_app_buildspec_is_clean_and_messages_are_one_line(tmp_path: Path) -> None:
    assert validate_directory(APP) == []
    findings = validate_directory(source_dir(tmp_path, (FIXTURES / "BS010-fail.yml").read_text()))
    assert findings and all("\n" not in f.one_line() for f in findings)
    assert any("$AWS_DEFAULT_REGION" in f.message for f in findings)


# --- the shell parser ---------------------------------------------------------------------------------


def test_commands_are_parsed_with_redirects_assignments_and_substitutions() -> None:
    parsed = parse_command(
        'IMAGE_DIGEST="$(aws ecr describe-images --query x)"; printf \'{"ImageURI":"%s"}\' "$U" > imageDetail.json'
    )
    assert parsed.exact
    names = [c.words[:3] for c in parsed.commands]
    assert ("aws", "ecr", "describe-images") in names
    printf = next(c for c in parsed.commands if c.name == "printf")
    assert printf.redirects == ((">", "imageDetail.json"),)
    assert any(
        a == ("IMAGE_DIGEST", "$(aws ecr describe-images --query x)")
        for c in parsed.commands
        for a in c.assignments
    )


def test_aws_global_options_and_command_wrappers_do_not_hide_the_command() -> None:
    (login,) = parse_command("aws --region eu-west-1 --output text ecr get-login --no-include-email").commands
    assert login.is_("aws", "ecr", "get-login")
    (push,) = parse_command("sudo docker push x:1").commands
    assert push.is_("docker", "push") and push.name == "docker"


def test_unparseable_commands_fall_back_to_tokens_and_silence_guessing_rules(tmp_path: Path) -> None:
    parsed = parse_command('[[ -n "$X" ]] && docker push "$REPO:$TAG"')
    assert not parsed.exact and any(c.words[:2] == ("docker", "push") for c in parsed.commands)
    buildspec = (
        (FIXTURES / "BS002-fail.yml")
        .read_text()
        .replace('      - echo "pushed; imageDetail.json is forgotten"', "      - ./scripts/release.sh")
    )
    findings = validate_directory(source_dir(tmp_path, buildspec))
    bs002 = [f for f in findings if f.rule_id == "BS002"]
    # The script is not in the directory: its writes are unknown, so the finding is only a warning.
    assert [f.severity for f in bs002] == [Severity.WARNING] and "./scripts/release.sh" in bs002[0].message


def test_files_copied_into_a_directory_count_as_written(tmp_path: Path) -> None:
    buildspec = (
        (FIXTURES / "pass.yml")
        .read_text()
        .replace(
            "artifacts:\n  files:\n    - taskdef.json\n    - appspec.yml\n    - imageDetail.json\n",
            "      - mkdir -p out && cp taskdef.json appspec.yml imageDetail.json out\n"
            "artifacts:\n  base-directory: out\n  files:\n    - taskdef.json\n    - appspec.yml\n    - imageDetail.json\n",
        )
    )
    assert "base-directory: out" in buildspec
    assert validate_directory(source_dir(tmp_path, buildspec)) == []
    broken = buildspec.replace("cp taskdef.json appspec.yml imageDetail.json out", "cp taskdef.json out")
    findings = validate_directory(source_dir(tmp_path, broken))
    assert sorted((f.rule_id, f.message.split(" ")[0]) for f in findings) == [
        ("BS002", "out/appspec.yml"),
        ("BS002", "out/imageDetail.json"),
    ]


def test_scripts_in_the_source_are_followed(tmp_path: Path) -> None:
    buildspec = (
        (FIXTURES / "BS002-fail.yml")
        .read_text()
        .replace('      - echo "pushed; imageDetail.json is forgotten"', "      - bash scripts/release.sh")
    )
    directory = source_dir(tmp_path, buildspec)
    (directory / "scripts").mkdir()
    (directory / "scripts" / "release.sh").write_text(
        '#!/bin/bash\nset -e\nprintf \'{"ImageURI":"%s"}\' "$REPOSITORY_URI:latest" > imageDetail.json\n'
    )
    assert {(f.rule_id, f.severity) for f in validate_directory(directory)} == {("BS004", Severity.WARNING)}


# --- template-driven -------------------------------------------------------------------------------


def template_with_project(**project: Any) -> dict:
    template = copy.deepcopy(load_template(TEMPLATE))
    props = {
        "Name": "sample-build",
        "ServiceRole": "arn:aws:iam::111122223333:role/build",
        "Artifacts": {"Type": "CODEPIPELINE"},
        "Source": {"Type": "CODEPIPELINE", **project.pop("Source", {})},
        "Environment": {
            "Type": "LINUX_CONTAINER",
            "ComputeType": "BUILD_GENERAL1_SMALL",
            "Image": project.pop("Image", "aws/codebuild/standard:7.0"),
            "PrivilegedMode": True,
        },
    }
    template["Resources"]["BuildProject"] = {"Type": "AWS::CodeBuild::Project", "Properties": props}
    return template


def app_files(buildspec: str, name: str = "buildspec.yml") -> dict[str, bytes]:
    files = {m: (APP / m).read_bytes() for m in ("taskdef.json", "appspec.yml")}
    files[name] = buildspec.encode()
    return files


def test_bs009_is_an_error_against_the_template_image() -> None:
    text = (FIXTURES / "BS009-fail.yml").read_text()
    findings = validate_files(app_files(text), template_with_project())
    assert {(f.rule_id, f.severity) for f in findings if f.rule_id == "BS009"} == {("BS009", Severity.ERROR)}
    assert all("aws/codebuild/standard:7.0" in f.message for f in findings if f.rule_id == "BS009")
    # An image the table does not know (a custom image) is not judged.
    custom = template_with_project(Image="111122223333.dkr.ecr.eu-west-1.amazonaws.com/builder:1")
    assert not [f for f in validate_files(app_files(text), custom) if f.rule_id == "BS009"]


def test_project_buildspec_path_is_the_one_checked_and_its_absence_is_bs000() -> None:
    path = "iac/build/buildspec-container.yaml"
    template = template_with_project(Source={"BuildSpec": path})
    broken = (FIXTURES / "BS006-fail.yml").read_text()
    clean = (FIXTURES / "pass.yml").read_text()
    # buildspec.yml is a decoy: the project runs the other file, whose defect is what counts.
    files = {**app_files(clean), **{path: broken.encode()}}
    findings = validate_files(files, template)
    assert {f.rule_id for f in findings} == {"BS006"}
    assert next(f for f in findings if f.rule_id == "BS006").file == path
    # A directory with only the project's named file is a source directory, not a build output.
    only_named = {k: v for k, v in files.items() if k != "buildspec.yml"}
    assert "ID000" not in {f.rule_id for f in validate_files(only_named, template)}
    # Without it the project has nothing to run.
    missing = validate_files(app_files(clean), template)
    bs000 = [f for f in missing if f.rule_id == "BS000"]
    assert len(bs000) == 1 and path in bs000[0].message and "buildspec.yml" in bs000[0].message


def test_inline_buildspec_is_checked_in_the_template() -> None:
    inline = (FIXTURES / "BS004-fail.yml").read_text()
    template = template_with_project(Source={"BuildSpec": inline})
    findings = validate_files(app_files((FIXTURES / "pass.yml").read_text()), template)
    assert {f.rule_id for f in findings} == {"BS004"}
    assert "BuildProject Source.BuildSpec" in findings[0].file


SECONDARY = """\
version: 0.2
phases:
  build:
    commands:
      - cp "$CODEBUILD_SRC_DIR_ImageSource/imageDetail.json" .
artifacts:
  files: [imageDetail.json]
  secondary-artifacts:
    DefinitionArtifact:
      files: [taskdef.json, appspec.yml]
    ImageArtifact:
      files: [imageDetail.json]
"""


def two_output_template() -> dict:
    template = template_with_project()
    stages = template["Resources"]["Pipeline"]["Properties"]["Stages"]
    stages[1]["Actions"][0]["OutputArtifacts"] = [{"Name": "DefinitionArtifact"}, {"Name": "ImageArtifact"}]
    deploy = stages[3]["Actions"][0]
    deploy["InputArtifacts"] = [{"Name": "DefinitionArtifact"}, {"Name": "ImageArtifact"}]
    deploy["Configuration"].update(
        TaskDefinitionTemplateArtifact="DefinitionArtifact",
        AppSpecTemplateArtifact="DefinitionArtifact",
        Image1ArtifactName="ImageArtifact",
    )
    return template


def test_several_outputs_map_to_secondary_artifacts_by_name() -> None:
    template = two_output_template()
    # The primary section lists only imageDetail.json: the old reading (first output = primary) raised
    # false alarms for taskdef and appspec.
    assert [f.one_line() for f in validate_files(app_files(SECONDARY), template)] == []
    dropped = SECONDARY.replace("files: [taskdef.json, appspec.yml]", "files: [taskdef.json]")
    findings = validate_files(app_files(dropped), template)
    assert [(f.rule_id, f.severity) for f in findings] == [("XC007", Severity.ERROR)]
    assert "appspec.yml" in findings[0].message


PLACEHOLDER_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - sed -i "s|<EXECUTION_ROLE>|$EXECUTION_ROLE_ARN|g; s|<LOG_REGION>|$AWS_DEFAULT_REGION|g" taskdef.json
      - cp "$CODEBUILD_SRC_DIR_ImageSource/imageDetail.json" .
artifacts:
  files: [taskdef.json, appspec.yml, imageDetail.json]
"""


def test_placeholders_the_build_fills_are_not_invalid_values() -> None:
    taskdef = json.loads((APP / "taskdef.json").read_text())
    taskdef["executionRoleArn"] = "<EXECUTION_ROLE>"
    taskdef["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-region"] = "<LOG_REGION>"
    files = {**app_files(PLACEHOLDER_BUILDSPEC), "taskdef.json": json.dumps(taskdef).encode()}
    assert validate_files(files) == []
    unfilled = PLACEHOLDER_BUILDSPEC.replace("s|<EXECUTION_ROLE>|$EXECUTION_ROLE_ARN|g; ", "")
    findings = validate_files({**files, "buildspec.yml": unfilled.encode()})
    assert [(f.rule_id, f.location) for f in findings] == [("TD018", "executionRoleArn")]


def test_image_detail_as_the_ecr_source_action_writes_it_passes() -> None:
    detail = {
        "ImageSizeInBytes": "44728918",
        "ImageDigest": "sha256:" + "3" * 64,
        "Version": "1.0",
        "ImagePushedAt": "Mon Jan 21 20:04:00 UTC 2019",
        "RegistryId": "111122223333",
        "RepositoryName": "app",
        "ImageURI": "111122223333.dkr.ecr.us-west-2.amazonaws.com/app@sha256:" + "3" * 64,
        "ImageTags": ["latest"],
    }
    files = {m: (APP / m).read_bytes() for m in ("taskdef.json", "appspec.yml")}
    assert validate_files({**files, "imageDetail.json": json.dumps(detail).encode()}) == []
    detail["ImageTag"] = "v1"  # not a key the action writes: still a likely typo
    findings = validate_files({**files, "imageDetail.json": json.dumps(detail).encode()})
    assert [f.rule_id for f in findings] == ["ID003"]


def test_static_checks_on_a_directory_stay_under_50ms(tmp_path: Path) -> None:
    directory = source_dir(tmp_path, (APP / "buildspec.yml").read_text())
    validate_directory(directory)  # imports and botocore's model, once
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        parse_command.cache_clear()  # each run parses every command, as a fresh process would
        validate_directory(directory)
    assert (time.perf_counter() - start) / runs < 0.05


# --- field buildspecs ------------------------------------------------------------------------------

FIELD = Path(__file__).parent / "artifact_fixtures" / "field"


def field_findings(directory: Path) -> list[tuple[str, str, str, str]]:
    template = directory / "pipeline.yaml"
    findings = validate_directory(directory, template if template.is_file() else None)
    return sorted(
        (f.rule_id, f.severity.value, Path(f.file).relative_to(directory).as_posix(), f.location)
        for f in findings
    )


@pytest.mark.parametrize("name", sorted(p.name for p in FIELD.iterdir() if p.is_dir()))
def test_field_buildspec_findings_are_exactly_the_real_defects(name: str) -> None:
    directory = FIELD / name
    wanted = sorted(
        (rule, severity, file, location)
        for rule, severity, file, location in (
            line.split(" ", 3) for line in (directory / "expect.txt").read_text().splitlines() if line.strip()
        )
    )
    assert field_findings(directory) == wanted


def test_field_buildspecs_hold_eight_errors_and_twelve_warnings() -> None:
    found = [f for d in FIELD.iterdir() if d.is_dir() for f in field_findings(d)]
    assert len(found) == 20
    assert sum(1 for f in found if f[1] == "error") == 8
    assert len({f[0] for f in found}) >= 10  # distinct kinds of defect


def test_run_artifact_verdict_includes_the_buildspec_rules(tmp_path: Path) -> None:
    from gitops_harness.config import load_config
    from gitops_harness.run import artifact_verdict

    for name in ("fixtures",):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "harness.yaml", tmp_path / "harness.yaml")
    config = load_config(tmp_path / "harness.yaml")
    clean = artifact_verdict(config)
    assert clean.passed and "buildspec rules: 0 error(s), 0 warning(s)" in clean.detail
    buildspec = tmp_path / "fixtures" / "app" / "buildspec.yml"
    buildspec.write_text(
        buildspec.read_text().replace(
            'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin '
            '"${REPOSITORY_URI%%/*}"',
            '$(aws ecr get-login --no-include-email --region "$AWS_REGION")',
        )
    )
    broken = artifact_verdict(config)
    assert not broken.passed and "buildspec rules: 1 error(s)" in broken.detail
    assert "BS006" in broken.where_to_look and "buildspec.yml:line 17" in broken.where_to_look
