"""Helpers of the command-line tests."""

from cnnlab.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``cnnlab *argv`` in this process: (exit status, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
