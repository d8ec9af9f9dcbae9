"""The README lists every command the CLI has (and no command it lacks)."""
import re

import click

from kiosk.cli import cli
from tests.conftest import ROOT


def commands(group: click.Group, prefix: str = "") -> set[str]:
    out = set()
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out |= commands(cmd, f"{prefix}{name} ")
        else:
            out.add(f"{prefix}{name}")
    return out


def test_readme_lists_every_cli_command():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## The command line", 1)[1].split("## ", 1)[0]
    missing = [c for c in sorted(commands(cli)) if not re.search(rf"phucvu {re.escape(c)}\b", block)]
    assert not missing, f"README does not show: {missing}"
    listed = set(re.findall(r"^phucvu ([a-z-]+)", block, re.M))
    top = {c.split()[0] for c in commands(cli)}
    assert listed <= top, f"README shows commands the CLI lacks: {sorted(listed - top)}"
