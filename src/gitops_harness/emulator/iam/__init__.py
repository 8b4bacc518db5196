"""IAM for the embedded AWS: policy evaluation (conditions, principals, identity policies from moto's IAM)
and the enforcement the front door runs before moto answers (enforcement.py)."""

from gitops_harness.emulator.iam.enforcement import ENFORCED, Verdict, enforce

__all__ = ["ENFORCED", "Verdict", "enforce"]
