"""Installing the CloudFormation hooks into moto is counted, and the last uninstall restores moto.

Checked in a fresh interpreter: in the test process another emulator may hold the hooks (the suites'
session target), and the point is what happens when the last holder lets go."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
from moto.cloudformation import parsing
from moto.cloudformation.models import CloudFormationBackend
from gitops_harness.emulator import cloudformation

originals = (parsing.resource_class_from_type, parsing.clean_json, CloudFormationBackend.create_stack)
assert not cloudformation.installed()
cloudformation.install()
cloudformation.install()
assert parsing.resource_class_from_type is not originals[0]
cloudformation.uninstall()
assert parsing.clean_json is not originals[1], "one holder is left: the hooks must stay"
cloudformation.uninstall()
assert (parsing.resource_class_from_type, parsing.clean_json, CloudFormationBackend.create_stack) == originals
assert not cloudformation.installed()
print("restored")
"""


def test_install_is_counted_and_uninstall_restores_moto():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "restored"
