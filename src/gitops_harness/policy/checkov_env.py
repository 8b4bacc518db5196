"""checkov's own virtual environment: checkov pins boto3 exactly, so it never shares ours.

Found at $GITOPS_HARNESS_CHECKOV_VENV (the Makefile sets it), else in a per-user cache directory
named after the pin; created there on first use (gitops_harness.tool_venv).
"""

from __future__ import annotations

from pathlib import Path

from gitops_harness.tool_venv import ToolVenv

REQUIREMENTS = Path(__file__).with_name("checkov-requirements.txt")
VENV_ENV_VAR = "GITOPS_HARNESS_CHECKOV_VENV"
CHECKOV = ToolVenv("checkov", REQUIREMENTS, VENV_ENV_VAR, "checkov", "gitops-harness policy")


def pinned_requirement() -> str:
    return CHECKOV.pinned_requirement()


def default_venv_dir() -> Path:
    return CHECKOV.default_dir()


def checkov_executable() -> Path:
    """Path of the checkov script, creating the environment if it does not exist yet."""
    return CHECKOV.executable()
