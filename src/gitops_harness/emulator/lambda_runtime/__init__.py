"""Lambda functions without Docker: python3.x zip packages run as local processes of the host's Python.

executor.py runs one invocation (bootstrap.py is the child side), code_cache.py unpacks code and layers,
environment.py builds the function's environment, invocation_log.py writes /aws/lambda/<name>, and
moto_hook.py is the one install/uninstall pair that puts the executor behind moto's Lambda.
"""

from gitops_harness.emulator.lambda_runtime.executor import LambdaExecutor
from gitops_harness.emulator.lambda_runtime.moto_hook import register, unregister

__all__ = ["LambdaExecutor", "register", "unregister"]
