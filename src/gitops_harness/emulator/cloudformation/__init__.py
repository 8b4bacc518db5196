"""CloudFormation on the embedded AWS: moto's stacks and intrinsic functions, plus resource models for
the types moto lacks, which create their resources through the front door (so code-service resources
land in our control planes), and stacks that fail and roll back on a resource they cannot create.

    app = resource.with_runtime(app, clients)   # the front door's WSGI app, giving models this emulator's clients

moto's CloudFormation is patched by emulator/moto_patches.py (group "cloudformation") on the first
CloudFormation request an emulator serves, and restored by the last emulator that stops.
"""

# Nothing is imported here: the emulator imports `resource.with_runtime` at start, and the models and
# stacks (which import botocore models and moto's CloudFormation) only on the first CloudFormation request.
