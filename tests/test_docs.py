"""Every command of the CLI is documented in docs/CLI.md (as sqlite-utils' test_docs does)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from station.cli import main as station_main
from sync.hub.cli import main as county_main

DOC = (Path(__file__).resolve().parent.parent / "docs" / "CLI.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str) -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += commands(command, path)
        else:
            found.append(path)
    return found


@pytest.mark.parametrize("command", commands(station_main, "station") + commands(county_main, "county"))
def test_every_command_is_documented(command: str) -> None:
    assert f"`{command}" in DOC
