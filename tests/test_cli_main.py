"""The top-level command works and lists its subcommands."""

import subprocess
import sys

from evflow.cli.main import SUBCOMMANDS, build_parser, main


def test_version_and_help(capsys):
    parser = build_parser()
    assert parser.prog == "evflow"
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "usage: evflow" in out


def test_module_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "evflow", "--version"], capture_output=True, text=True, check=True)
    assert res.stdout.startswith("evflow ")


def test_subcommand_list_is_unique():
    assert len(set(SUBCOMMANDS)) == len(SUBCOMMANDS)
