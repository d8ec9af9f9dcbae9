"""The ``phucvu`` command: thin wrappers over the library.

Each command parses its arguments, loads the validated config, wires objects
and prints one line or a small table.  Bad input gives a one-line error and
a non-zero exit, never a traceback.

The commands live in rooms by what they do:

- ``queue``: init, issue, counter, close-day;
- ``officials``: the roster (official ...), login, logout;
- ``reports``: status and report, read-only;
- ``services``: the long-running processes (core, broker, bridge, kiosk,
  display, speaker, web, phone, aggregate), the box simulator and the demo;
- ``maintenance``: backup, reprint, print-test, voice-test, screenshots,
  replay-events;
- ``configs``: config check, config diff (the site file alone).

Shared options and the one-line errors are in ``options``.  State-changing
commands build the body the core takes on the bus and send it through
``writer``: the database directly when no core runs, else the running core
over MQTT, so there is only ever one writer.
"""
from __future__ import annotations

import sys

import click

from kiosk.cli import configs, maintenance, officials, queue, reports, services


@click.group()
@click.version_option(package_name="phucvu")
def cli() -> None:
    """phucvu: tickets, calls and satisfaction for a public-service centre."""


for _room in (queue, officials, reports, services, maintenance, configs):
    for _command in _room.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    try:
        cli(prog_name="phucvu")
    except KeyboardInterrupt:
        sys.exit(130)
