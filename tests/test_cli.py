import subprocess
import sys

from gitops_harness.cli import main


def test_a_command_imports_only_its_own_module():
    """`gitops-harness emulator` starts without the artifact validator, cfn-lint or the policy gate."""
    probe = (
        "import sys; from gitops_harness.cli import build_parser; build_parser(['emulator']);"
        "print(sorted(m for m in ('gitops_harness.artifacts.validate', 'cfnlint', 'gitops_harness.policy.command')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_top_level_help_lists_every_command(capsys):
    try:
        main(["--help"])
    except SystemExit as done:
        assert done.code == 0
    out = capsys.readouterr().out
    for command in ("run", "validate-artifacts", "policy", "emulator"):
        assert command in out
