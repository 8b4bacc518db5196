"""Installing the CloudFormation hooks into moto is counted, and the last uninstall restores moto."""

from __future__ import annotations

import pytest

from gitops_harness.emulator import cloudformation


def test_install_is_counted_and_uninstall_restores_moto():
    from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend

    originals = (parsing.resource_class_from_type, parsing.clean_json, CloudFormationBackend.create_stack)
    if cloudformation.installed():
        pytest.skip("another emulator in this process holds the hooks")
    cloudformation.install()
    cloudformation.install()
    assert parsing.resource_class_from_type is not originals[0]
    cloudformation.uninstall()
    assert parsing.clean_json is not originals[1]  # still one holder
    cloudformation.uninstall()
    assert (
        parsing.resource_class_from_type,
        parsing.clean_json,
        CloudFormationBackend.create_stack,
    ) == originals
    assert not cloudformation.installed()
