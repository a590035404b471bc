"""A dispute's own forms on the kiosk at 80x24: its parties (name, role, ID number, phone:
one record each, `p` on the case's screen), the mediation method and the agreement reached on
a mediation step, all from the schema's definitions; the case's screen shows them with their
Chinese labels, personal values masked until `v`, and the list names the parties masked."""

from __future__ import annotations

import random
from datetime import date

from textual.pilot import Pilot
from textual.widgets import Input, Label, Select, Static

from station import synthetic
from station.cases import Cases
from station.store import Store
from tui.app import make_app
from tui.screens.cases import CaseScreen, CasesScreen
from tui.screens.record_form import RecordForm

from .conftest import GRID
from .test_tui import cells, open_new_case, run, until

RNG = random.Random(22)
ID_WANG = synthetic.id_number(RNG, date(1978, 3, 9), male=False)
ID_LI = synthetic.id_number(RNG, date(1965, 11, 2), male=True)
PHONE_WANG = synthetic.mobile(RNG)


def masked_id(number: str) -> str:
    return number[:4] + "*" * 10 + number[-4:]


def masked_phone(number: str) -> str:
    return number[:3] + "****" + number[-4:]


async def choose(pilot: Pilot[None], select: Select[str], label: str) -> None:
    """Pick the option called `label` of a dropdown with the keyboard: focus it, Enter opens
    the choices, ↓ moves to the option, Enter takes it."""
    from textual.widgets._select import SelectOverlay

    select.focus()
    await pilot.press("enter")
    overlay = select.query_one(SelectOverlay)
    await until(pilot, lambda: select.expanded and overlay.has_focus)
    for _ in range(overlay.option_count):
        highlighted = overlay.highlighted
        prompt = str(overlay.get_option_at_index(highlighted).prompt) if highlighted is not None else ""
        if prompt.partition(" ")[2] == label:  # "01 申请人": the code, then its label
            break
        await pilot.press("down")
    await pilot.press("enter")
    await until(pilot, lambda: not select.expanded)
    assert not select.is_blank()  # which one: the case's screen and the store say below


async def add_party(pilot: Pilot[None], role: str, typed: dict[str, str]) -> RecordForm:
    """`p` on the case's screen, the role chosen by its label, the rest typed, Ctrl+S; the
    form."""
    case = pilot.app.screen
    await pilot.press("p")
    await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
    form = pilot.app.screen
    assert isinstance(form, RecordForm)
    assert not form.query("#field-dispute") and not form.query("#field-grid")  # the case's
    if role:
        await choose(pilot, form.query_one("#field-role", Select), role)
    for name, value in typed.items():
        form.query_one(f"#field-{name}", Input).focus()
        await pilot.press(*value)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: pilot.app.screen is case or any(
        "⚠" in str(label.render()) for label in form.query(".field-error").results(Label)))
    return form


def errors(form: RecordForm) -> dict[str, str]:
    return {str(label.id).removeprefix("error-"): str(label.render())
            for label in form.query(".field-error").results(Label) if "⚠" in str(label.render())}


def test_a_dispute_with_two_parties_and_a_mediation_agreement_is_shown_in_chinese(
        store: Store) -> None:
    kind = "02"  # 邻里
    store.lock()

    async def scenario(pilot: Pilot[None]) -> None:
        await open_new_case(pilot, "m", ("kind", kind), {"parties": "王芳,李建国", "grid": GRID})
        case = pilot.app.screen
        assert isinstance(case, CaseScreen)
        parts = case.query_one("#case-parts", Static)
        assert "纠纷当事人" in str(parts.render()) and "尚未登记" in str(parts.render())

        # A party with no role is refused beside the field, naming it; nothing is saved.
        form = await add_party(pilot, "", {"name": "王芳"})
        assert pilot.app.screen is form and list(errors(form)) == ["role"]
        assert errors(form)["role"] == "⚠ 请填写当事人角色"
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is case)
        # A wrong ID number is refused naming the field and its rule.
        form = await add_party(pilot, "申请人", {"name": "王芳", "id_number": ID_WANG[:-1] + "0"
                                             if ID_WANG[-1] != "0" else ID_WANG[:-1] + "1"})
        assert pilot.app.screen is form and list(errors(form)) == ["id_number"]
        assert "校验" in errors(form)["id_number"]
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is case)

        await add_party(pilot, "申请人", {"name": "王芳", "id_number": ID_WANG, "phone": PHONE_WANG})
        await add_party(pilot, "被申请人", {"name": "李建国", "id_number": ID_LI})
        await until(pilot, lambda: "2. " in str(parts.render()))
        shown = str(parts.render()).splitlines()
        # At 80 columns the first party's phone goes on a line of its own, under its name.
        assert shown[1:] == [
            f"  1. 姓名: 王*  当事人角色: 申请人  公民身份号码: {masked_id(ID_WANG)}",
            f"     联系方式: {masked_phone(PHONE_WANG)}",
            f"  2. 姓名: 李**  当事人角色: 被申请人  公民身份号码: {masked_id(ID_LI)}"]

        await pilot.press("1")  # 开始调解
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordForm))
        mediation = pilot.app.screen
        assert isinstance(mediation, RecordForm)
        labels = " ".join(str(label.render()) for label in mediation.query(Label).results(Label))
        assert "化解方式" in labels and "是否达成协议" in labels and "协议内容" in labels
        await choose(pilot, mediation.query_one("#field-method", Select), "调解")
        await choose(pilot, mediation.query_one("#field-agreement", Select), "部分达成协议")
        mediation.query_one("#field-agreement_text", Input).focus()
        await pilot.press(*"李建国赔偿围墙修缮费三千元")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pilot.app.screen is case)
        await until(pilot, lambda: "部分达成协议" in str(
            case.query_one("#case-timeline", Static).render()))
        timeline = str(case.query_one("#case-timeline", Static).render()).splitlines()[-1]
        assert "  调解  " in f"  {timeline}  " and "部分达成协议" in timeline
        assert "协议内容: 李建国赔偿围墙修缮费三千元" in timeline

        await pilot.press("v")  # on purpose, at the counter: whole, and recorded
        await until(pilot, lambda: ID_WANG in str(parts.render()))
        assert "姓名: 王芳" in str(parts.render()) and "姓名: 李建国" in str(parts.render())
        revealed = {(r["entity"], r["field"]) for r in store.reveals()}
        assert {("dispute_party", "name"), ("dispute_party", "id_number"),
                ("dispute_party", "phone")} <= revealed
        await pilot.press("v")
        await until(pilot, lambda: ID_WANG not in str(parts.render()))

        await pilot.press("f2")
        await until(pilot, lambda: "Dispute party" in str(parts.render()))
        assert "Role: Applicant" in str(parts.render()) and "Partly agreed" in str(
            case.query_one("#case-timeline", Static).render())
        await pilot.press("f2")

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, CasesScreen))
        cases = pilot.app.screen
        assert isinstance(cases, CasesScreen)
        (row,) = cases.table.rows
        assert cells(cases.table, row)[0] == "王*、李**"

    run(make_app(store), scenario)
    (summary,) = Cases(store, "dispute").summaries()
    shown = Cases(store, "dispute").show(summary["id"])
    assert [(p["name"], p["role"], p.get("id_number")) for p in shown["parts"]["dispute_party"]] == [
        ("王芳", "01", ID_WANG), ("李建国", "02", ID_LI)]
    assert all(p["grid"] == GRID for p in shown["parts"]["dispute_party"])
    mediation = shown["events"][-1]
    assert (mediation["step"], mediation["method"], mediation["agreement"]) == (
        "mediate", "01", "partial")
    # Sealed on disk: no party's name or ID number in the store's file in clear.
    raw = (store.home / "station.db").read_bytes()
    assert ID_WANG.encode() not in raw and "王芳".encode() not in raw


def test_a_partys_fields_wrap_whole_under_its_number() -> None:
    from tui.screens.cases import wrap_items

    items = ["姓名: 欧阳**", "当事人角色: 第三人", "联系方式: 139****5678"]  # 11, 18, 20 cells
    assert wrap_items(items, "  3. ", 80) == ["  3. 姓名: 欧阳**  当事人角色: 第三人  联系方式: 139****5678"]
    assert wrap_items(items, "  3. ", 40) == ["  3. 姓名: 欧阳**  当事人角色: 第三人",
                                              "     联系方式: 139****5678"]
    assert wrap_items(items, "  3. ", 10) == ["  3. 姓名: 欧阳**", "     当事人角色: 第三人",
                                              "     联系方式: 139****5678"]  # never cut
    assert wrap_items([], "  1. ", 80) == ["  1. "]
