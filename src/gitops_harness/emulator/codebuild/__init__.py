"""The CodeBuild buildspec engine: runs a buildspec's phases in an isolated working directory.

The CodeBuild control plane (StartBuild, BatchGetBuilds, StopBuild) calls run_build() from its
scheduler and serializes the BuildResult; nothing here knows about the HTTP protocol.
"""

from .artifacts import ArtifactError, ArtifactOutput
from .build_io import BuildRequest, BuildResult, EnvironmentVariable, PhaseContext, PhaseRecord
from .buildspec import Buildspec, BuildspecError, SecretRef, load_buildspec
from .runner import run_build, utc_now

__all__ = [
    "ArtifactError",
    "ArtifactOutput",
    "BuildRequest",
    "BuildResult",
    "Buildspec",
    "BuildspecError",
    "EnvironmentVariable",
    "PhaseContext",
    "PhaseRecord",
    "SecretRef",
    "load_buildspec",
    "run_build",
    "utc_now",
]
