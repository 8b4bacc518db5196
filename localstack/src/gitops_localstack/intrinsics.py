"""Fn::Cidr for LocalStack's CloudFormation (the v2 engine, 4.14's default), which lacks it.

The pipeline stack cuts its subnets with `!Select [0, !Cidr [!Ref VpcCidr, 2, 8]]`; without Fn::Cidr in
the engine's intrinsic functions, the function is read as a plain object and Fn::Select refuses the
template ("Fn::Select requires a list argument ..."). `install()` (on LocalStack's start) adds it the
way the engine defines its own: the name in INTRINSIC_FUNCTIONS, a visitor that walks the arguments, and
a preprocessor step that computes the subnets (the harness's `cidr`, as the embedded AWS computes them).
Where LocalStack has Fn::Cidr itself, nothing is changed.
"""

from __future__ import annotations

from typing import Any

FN_CIDR = "Fn::Cidr"


def install() -> bool:
    """Add Fn::Cidr to the v2 engine; False when the engine already has it (or is not there)."""
    try:
        from localstack.services.cloudformation.engine.v2 import (
            change_set_model,
            change_set_model_preproc,
            change_set_model_visitor,
        )
    except ImportError:
        return False
    if FN_CIDR in change_set_model.INTRINSIC_FUNCTIONS:
        return False
    preproc = change_set_model_preproc.ChangeSetModelPreproc
    visitor = change_set_model_visitor.ChangeSetModelVisitor
    if hasattr(preproc, "visit_node_intrinsic_function_fn_cidr"):
        return False

    def visit_children(self: Any, node: Any) -> None:
        self.visit_children(node)

    def visit_preproc(self: Any, node: Any) -> Any:
        from localstack.services.cloudformation.engine.validations import ValidationError

        from gitops_harness.emulator.cloudformation.intrinsics import cidr
        from gitops_harness.emulator.cloudformation.resource import ResourceFailure

        def compute(args: Any) -> Any:
            if not isinstance(args, list) or len(args) != 3:
                raise ValidationError(
                    "Template error: Fn::Cidr requires a list of three elements: an IP block, a count "
                    "and the number of subnet bits"
                )
            block, count, bits = args
            if not isinstance(block, str):
                raise RuntimeError(f"Fn::Cidr IP block is not resolved yet: {block!r}")
            try:
                return cidr(block, int(count), int(bits))
            except (TypeError, ValueError):
                raise ValidationError(
                    f"Template error: Fn::Cidr count and bits must be integers: {args}"
                ) from None
            except ResourceFailure as failure:
                raise ValidationError(str(failure)) from None

        arguments = self.visit(node.arguments)
        return self._cached_apply(scope=node.scope, arguments_delta=arguments, resolver=compute)

    change_set_model.INTRINSIC_FUNCTIONS.add(FN_CIDR)
    visitor.visit_node_intrinsic_function_fn_cidr = visit_children
    preproc.visit_node_intrinsic_function_fn_cidr = visit_preproc
    return True
