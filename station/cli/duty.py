"""`station duty …`: school-gate guard duty (护学岗)."""

from __future__ import annotations

import click

from station.cli.common import Context, as_of_option, as_of_time, at_option, emit, json_object, json_option
from station.duty import Duty


@click.group()
def duty() -> None:
    """School-gate guard duty (护学岗): posts, shifts, roster, sign-in, uncovered posts."""


@duty.command("post")
@json_option("school, name, address, grid")
@click.pass_obj
def duty_post(obj: Context, json_text: str) -> None:
    """Add a guard post at a school gate; prints the id."""
    click.echo(obj.unlocked().add("duty_post", json_object(json_text)))


@duty.command("shift")
@json_option("post, day, start_time, end_time, kind, person_name, phone, grid")
@click.pass_obj
def duty_shift(obj: Context, json_text: str) -> None:
    """Add a shift to the roster; prints the id."""
    click.echo(obj.unlocked().add("duty_shift", json_object(json_text)))


@duty.command("roster")
@click.option("--day", help="YYYY-MM-DD (default today)")
@click.pass_obj
def duty_roster(obj: Context, day: str | None) -> None:
    """The day's shifts, as JSON lines."""
    for row in Duty(obj.store()).roster(day):
        emit(row)


def sign_command(what: str, done_zh: str, done_en: str) -> click.Command:
    """`duty signin` or `duty signout`: the same command but for the word."""
    @click.command(f"sign{what}", help=f"Sign {what} of a shift.")
    @click.argument("shift_id")
    @at_option("ISO 8601 (default now)")
    @click.pass_obj
    def sign(obj: Context, shift_id: str, at: str | None) -> None:
        Duty(obj.unlocked()).sign(shift_id, what, at)
        click.echo(f"{done_zh} ({done_en})", err=True)

    return sign


duty.add_command(sign_command("in", "已签到", "signed in"))
duty.add_command(sign_command("out", "已签退", "signed out"))


@duty.command("uncovered")
@as_of_option("ISO 8601 (default now)")
@click.pass_obj
def duty_uncovered(obj: Context, as_of: str | None) -> None:
    """Shifts running now (or at --as-of) that nobody is covering, as JSON lines."""
    for row in Duty(obj.store()).uncovered(as_of_time(as_of)):
        emit(row)
