"""CloudFormation on the embedded AWS: moto's stacks and intrinsic functions, plus resource models for
the types moto lacks, which create their resources through the front door (so code-service resources
land in our control planes), and stacks that fail and roll back on a resource they cannot create.

    install()                      # on emulator start (reference-counted patch of moto's module state)
    app = with_runtime(app, clients)   # the front door's WSGI app, giving models this emulator's clients
    uninstall()                    # on stop
"""

from gitops_harness.emulator.cloudformation.models import RESOURCE_MODELS
from gitops_harness.emulator.cloudformation.stacks import install, installed, uninstall, with_runtime

__all__ = ["RESOURCE_MODELS", "install", "installed", "uninstall", "with_runtime"]
