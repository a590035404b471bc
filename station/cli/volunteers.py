"""`station volunteer …`: courier volunteers, their daily check-in, points and ranking."""

from __future__ import annotations

import click

from station.cli.common import Context, emit, json_object, json_option
from station.volunteers import Volunteers


@click.group()
def volunteer() -> None:
    """Volunteer gridworkers (义务网格员): register, check in, points, ranking."""


@volunteer.command("add")
@json_option("name, phone, affiliation, grid, grids …")
@click.pass_obj
def volunteer_add(obj: Context, json_text: str) -> None:
    """Register a volunteer; prints the id."""
    click.echo(obj.unlocked().add("volunteer", json_object(json_text)))


@volunteer.command("checkin")
@click.argument("who")
@click.option("--day", help="YYYY-MM-DD (default today)")
@click.option("--station", "rest_station", help="the courier rest station (驿站)")
@click.pass_obj
def volunteer_checkin(obj: Context, who: str, day: str | None, rest_station: str | None) -> None:
    """Check WHO (id, phone or name) in for the day; again the same day changes nothing."""
    checkin_id, new = Volunteers(obj.unlocked()).check_in(who, day, rest_station)
    emit({"checkin": checkin_id, "new": new})
    if not new:
        click.echo("今天已签到，未重复记分 (already checked in today)", err=True)


@volunteer.command("points")
@click.argument("who", required=False)
@click.option("--month", help="YYYY-MM (default: all)")
@click.pass_obj
def volunteer_points(obj: Context, who: str | None, month: str | None) -> None:
    """The points ledger as JSON lines (one volunteer with WHO)."""
    volunteers = Volunteers(obj.unlocked())
    only = volunteers.find(who) if who else volunteers.own()  # a volunteer: their own only
    for e in volunteers.entries():
        if (only is None or e.volunteer == only) and (month is None or e.day.startswith(month)):
            emit({"volunteer": e.volunteer, "day": e.day, "rule": e.rule, "points": e.points,
                  "source": e.source})


@volunteer.command("ranking")
@click.option("--month", help="YYYY-MM (default this month)")
@click.pass_obj
def volunteer_ranking(obj: Context, month: str | None) -> None:
    """The month's ranking by points, as JSON lines."""
    for row in Volunteers(obj.unlocked()).ranking(month):
        emit(row)
