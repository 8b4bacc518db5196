"""Every operation every control plane implements answers within its botocore output shape.

Planes come from the registry (gitops_harness.emulator.registry.CONTROL_PLANES), so a new plane is
covered by registering it; each service has sample requests for its operations in
tests/emulator/shape_samples/<service>.py, and a plane that implements an operation without a sample
fails here. The test-only demo planes keep the
machinery itself under test while the registry is still empty.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from botocore import xform_name
from emulator_demo_planes import DEMO_PLANES
from shape_samples import samples_for

from gitops_harness.emulator.controlplane import ControlPlane
from gitops_harness.emulator.registry import load_control_planes
from gitops_harness.emulator.shape_check import check_output, check_shape
from gitops_harness.emulator.testing import running_emulator

PLANES = [*load_control_planes(), *DEMO_PLANES]


@pytest.mark.parametrize("plane_class", PLANES, ids=lambda plane: f"{plane.service_name}:{plane.__name__}")
def test_every_implemented_operation_answers_in_shape(plane_class: type[ControlPlane]):
    implemented = plane_class.implemented_operations()
    assert implemented, f"{plane_class.__name__} implements no operation of {plane_class.service_name}"
    # strict_shapes: the front door also checks each handler's own dict before serializing it
    with running_emulator(planes=[plane_class], strict_shapes=True) as aws:
        [plane] = aws.aws.planes
        answers: dict[str, dict] = {}
        for sample in samples_for(plane):
            request = sample.request(answers) if callable(sample.request) else sample.request
            client = aws.client(plane_class.service_name, account=sample.account_id, region=sample.region)
            response = getattr(client, xform_name(sample.operation))(**request)
            problems = check_output(plane_class.service_name, sample.operation, response)
            assert not problems, f"{sample.operation}: " + "; ".join(problems)
            answers[sample.operation] = response
    missing = sorted(set(implemented) - set(answers))
    assert not missing, f"{plane_class.__name__}: no shape sample for {missing}"


def test_registry_loads_planes_and_rejects_other_classes():
    assert load_control_planes(("emulator_demo_planes:DemoCodeCommit",)) == [DEMO_PLANES[0]]
    with pytest.raises(TypeError, match="not a ControlPlane"):
        load_control_planes(("gitops_harness.emulator.server:EmbeddedAWS",))


# ---- the checker itself must catch what it claims to -----------------------------------------------


def test_checker_accepts_a_conforming_response():
    response = {
        "repositoryMetadata": {
            "repositoryName": "r",
            "creationDate": datetime.now(),
            "accountId": "111111111111",
        },
        "ResponseMetadata": {"RequestId": "x"},
    }
    assert check_output("codecommit", "GetRepository", response) == []


def test_checker_reports_wrong_types_unknown_members_and_enums():
    response = {"repositoryMetadata": {"repositoryName": 5, "creationDate": "yesterday", "bogus": 1}}
    problems = check_output("codecommit", "GetRepository", response)
    joined = "\n".join(problems)
    assert "repositoryMetadata.repositoryName: expected string" in joined
    assert "repositoryMetadata.creationDate: expected timestamp" in joined
    assert "repositoryMetadata.bogus: not a member" in joined
    summary = {"pipelines": [{"name": "p", "pipelineType": "V9"}]}
    assert any("'V9' is not one of" in p for p in check_output("codepipeline", "ListPipelines", summary))


def test_checker_reports_missing_required_members():
    # DescribeNotificationRule's output requires Arn
    problems = check_output("codestar-notifications", "DescribeNotificationRule", {"Name": "n"})
    assert problems == [
        "DescribeNotificationRule.Arn: required member of DescribeNotificationRuleResult is missing"
    ]


def test_checker_rejects_bool_for_integer_and_checks_nested_lists():
    from gitops_harness.emulator.controlplane import service_model

    shape = service_model("codepipeline").operation_model("GetPipelineState").output_shape
    problems = check_shape(shape, {"pipelineVersion": True, "stageStates": [{"stageName": 3}]}, "out")
    assert any("pipelineVersion: expected integer" in p for p in problems)
    assert any("stageStates[0].stageName: expected string" in p for p in problems)


@pytest.mark.parametrize("plane_class", PLANES, ids=lambda plane: f"{plane.service_name}:{plane.__name__}")
def test_stated_signing_name_is_the_models(plane_class: type[ControlPlane]):
    """Planes state their signing name so the front door routes without loading the model at start."""
    model = plane_class.model()
    assert plane_class.signing_name() == (model.signing_name or plane_class.service_name)


def test_registry_names_each_planes_signing_before_importing_it():
    """`gitops-harness emulator` routes by these names while the planes load in the background."""
    from gitops_harness.emulator.registry import CONTROL_PLANES, signing_name_of

    for entry, plane_class in zip(CONTROL_PLANES, load_control_planes(), strict=True):
        assert signing_name_of(entry) == plane_class.signing_name(), entry
