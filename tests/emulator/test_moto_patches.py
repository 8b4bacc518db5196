"""emulator/moto_patches.py: every patch of moto installed by the first holder, removed by the last.

Checked in a fresh interpreter: in the test process another emulator may hold the patches (a session
target), and the point is what happens when the last holder lets go."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gitops_harness.emulator import moto_patches

COUNTED = """
from moto.cloudformation import parsing
from moto.cloudformation.models import CloudFormationBackend
from moto.events.models import Rule
from gitops_harness.emulator import moto_patches

originals = (parsing.resource_class_from_type, parsing.clean_json, CloudFormationBackend.create_stack)
send = Rule.send_to_targets
assert not moto_patches.installed("cloudformation")
moto_patches.acquire("cloudformation")
moto_patches.acquire("cloudformation")
assert parsing.resource_class_from_type is not originals[0]
moto_patches.release("cloudformation")
assert parsing.clean_json is not originals[1], "one holder is left: the patches must stay"
moto_patches.release("cloudformation")
assert (parsing.resource_class_from_type, parsing.clean_json, CloudFormationBackend.create_stack) == originals
assert not moto_patches.installed("cloudformation")
moto_patches.acquire("eventbridge")
assert Rule.send_to_targets is not send
moto_patches.release("eventbridge")
assert Rule.send_to_targets is send
print("restored")
"""

# Two emulators, both serving CloudFormation; after both stop a user's own mock_aws sees plain moto.
AFTER_LAST_STOP = """
import boto3, json, pytest
from moto import mock_aws
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.events.models import Rule
from moto.s3.models import FakeBucket
from moto.sns.models import Subscription
from moto.cloudformation import parsing
from gitops_harness.emulator.testing import running_emulator

plain = (Rule.send_to_targets, FakeBucket.get_permission, LambdaFunction.invoke, Subscription.publish, LambdaBackend.create_function, parsing.clean_json)
template = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
with running_emulator() as one, running_emulator() as two:
    for n, aws in enumerate((one, two)):
        aws.client("cloudformation", account="616161616161").create_stack(StackName=f"s{n}", TemplateBody=template)
    codedeploy = one.client("codedeploy", account="616161616161")
    codedeploy.create_application(applicationName="a", computePlatform="ECS")
    codedeploy.delete_application(applicationName="a")  # served by the CodeDeploy plane, not moto
assert (Rule.send_to_targets, FakeBucket.get_permission, LambdaFunction.invoke, Subscription.publish, LambdaBackend.create_function, parsing.clean_json) == plain

with mock_aws():
    client = boto3.client("codedeploy", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    client.create_application(applicationName="a", computePlatform="ECS")
    try:
        client.delete_application(applicationName="a")
    except NotImplementedError as error:  # moto 5.2.5 has no DeleteApplication
        print("unpatched:", error)
    else:
        raise AssertionError("a DeleteApplication leaked into a plain mock_aws")
"""


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_groups_are_counted_and_the_last_release_restores_moto() -> None:
    assert _run(COUNTED).strip() == "restored"


def test_plain_mock_aws_after_the_last_emulator_stops_sees_unpatched_moto() -> None:
    assert "unpatched:" in _run(AFTER_LAST_STOP)


def test_a_failing_install_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.events.models import Rule

    before = Rule.send_to_targets
    group = moto_patches.PatchGroup(
        "broken",
        (
            moto_patches.PatchSpec(
                "moto.events.models:Rule", "send_to_targets", lambda o: lambda *a: None, why="test"
            ),
            moto_patches.PatchSpec("moto.events.models:NoSuchThing", "x", lambda o: o, why="test"),
        ),
    )
    monkeypatch.setitem(moto_patches.PATCH_GROUPS, "broken", group)
    with pytest.raises(AttributeError):
        moto_patches.acquire("broken")
    assert not moto_patches.installed("broken")
    assert Rule.send_to_targets is before


def test_groups_load_on_the_first_request_that_needs_them() -> None:
    """moto's Lambda imports for ~1 s: a session takes its group only for a lambda request, or once moto
    has loaded the module (another emulator or CloudFormation did), never at every start."""
    loaded = moto_patches.PatchGroup(
        "test-loaded",
        (moto_patches.PatchSpec("json:JSONDecoder", "x_test", lambda o: 1, why="test"),),
        ("none",),
    )
    lazy = moto_patches.PatchGroup(
        "test-lazy",
        (moto_patches.PatchSpec("mailbox:Mailbox", "x_test", lambda o: 2, why="t"),),
        ("lambda",),
    )
    session = moto_patches.MotoPatchSession({"test-loaded": loaded, "test-lazy": lazy})
    import json
    import sys

    assert "mailbox" not in sys.modules, "the test needs a module nothing imported yet"

    try:
        moto_patches.PATCH_GROUPS.update({"test-loaded": loaded, "test-lazy": lazy})
        session.start()
        assert session.holds("test-loaded") and json.JSONDecoder.x_test == 1  # type: ignore[attr-defined]
        session.ensure_for_service("sqs")
        assert not session.holds("test-lazy")
        session.ensure_for_service("lambda")
        assert session.holds("test-lazy") and "mailbox" in sys.modules
    finally:
        session.close()
        for name in ("test-loaded", "test-lazy"):
            moto_patches.PATCH_GROUPS.pop(name, None)
    assert not hasattr(json.JSONDecoder, "x_test")
