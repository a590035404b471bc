"""`station duty …`: school-gate guard duty (护学岗)."""

from __future__ import annotations

import click

from station.cli import _Context, _emit, _json_object, main
from station.cli_cases import _as_of
from station.duty import Duty


@main.group()
def duty() -> None:
    """School-gate guard duty (护学岗): posts, shifts, roster, sign-in, uncovered posts."""


@duty.command("post")
@click.option("--json", "json_text", required=True, help="school, name, address, grid")
@click.pass_obj
def duty_post(obj: _Context, json_text: str) -> None:
    """Add a guard post at a school gate; prints the id."""
    click.echo(obj.unlocked().add("duty_post", _json_object(json_text)))


@duty.command("shift")
@click.option("--json", "json_text", required=True,
              help="post, day, start_time, end_time, kind, person_name, phone, grid")
@click.pass_obj
def duty_shift(obj: _Context, json_text: str) -> None:
    """Add a shift to the roster; prints the id."""
    click.echo(obj.unlocked().add("duty_shift", _json_object(json_text)))


@duty.command("roster")
@click.option("--day", help="YYYY-MM-DD (default today)")
@click.pass_obj
def duty_roster(obj: _Context, day: str | None) -> None:
    """The day's shifts, as JSON lines."""
    for row in Duty(obj.store()).roster(day):
        _emit(row)


def _sign_command(what: str, done_zh: str, done_en: str) -> None:
    @duty.command(f"sign{what}", help=f"Sign {what} of a shift.")
    @click.argument("shift_id")
    @click.option("--at", "at", help="ISO 8601 (default now)")
    @click.pass_obj
    def sign(obj: _Context, shift_id: str, at: str | None) -> None:
        Duty(obj.unlocked()).sign(shift_id, what, at)
        click.echo(f"{done_zh} ({done_en})", err=True)


_sign_command("in", "已签到", "signed in")
_sign_command("out", "已签退", "signed out")


@duty.command("uncovered")
@click.option("--as-of", "as_of", help="ISO 8601 (default now)")
@click.pass_obj
def duty_uncovered(obj: _Context, as_of: str | None) -> None:
    """Shifts running now (or at --as-of) that nobody is covering, as JSON lines."""
    for row in Duty(obj.store()).uncovered(_as_of(as_of)):
        _emit(row)
