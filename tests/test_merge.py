"""Laws of the per-field merge (sync/merge.py): a join-semilattice, so order never matters;
and concurrency decided by what each author had received, never by clock order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync.merge import (
    DELETED,
    FieldState,
    Version,
    apply,
    change_versions,
    conflicts,
    covers,
    field_state,
    is_deleted,
    join,
    legacy_context,
    merge_field,
    merge_record,
    record_context,
    settle_context,
    stored_seen,
    values,
    with_seen,
)


def clock(n: int, node: str = "a") -> str:
    return f"{n:015d}.000000.{node}"


def w(n: int, node: str, value: str, *seen: tuple[int, str]) -> Version:
    """Node `node` writes `value` at time n, having received the writes `seen` (time, node)."""
    received = dict(join(*[((s, clock(t, s)),) for t, s in seen]))
    return Version(clock(n, node), "", value, "", with_seen(clock(n, node), received))


# Random histories: before each write its station receives some of the writes made so far
# (with what their authors had received: delivery is causal), and it never forgets what it
# knew, as a station's store does not.
@st.composite
def histories(draw: st.DrawFn) -> list[Version]:
    out: list[Version] = []
    known: dict[str, tuple[tuple[str, str], ...]] = {}
    for n in range(1, draw(st.integers(1, 7)) + 1):
        node = draw(st.sampled_from("abc"))
        received = [v.seen for v in out if draw(st.booleans())]
        known[node] = join(known.get(node, ()), *received, ((node, clock(n, node)),))
        out.append(Version(clock(n, node), "", draw(st.sampled_from(['"x"', '"y"', '"z"'])), "",
                           known[node]))
    return out


@st.composite
def places(draw: st.DrawFn, n: int) -> list[FieldState]:
    """What `n` places hold of one field: each some of the writes of one history (a clock is
    one write everywhere)."""
    history = draw(histories())
    return [field_state(draw(st.lists(st.sampled_from(history), min_size=1))) for _ in range(n)]


@given(places(2))
def test_merging_is_commutative(held: list[FieldState]) -> None:
    a, b = held
    assert merge_field(a, b) == merge_field(b, a)


@given(places(3))
def test_merging_is_associative(held: list[FieldState]) -> None:
    a, b, c = held
    assert merge_field(merge_field(a, b), c) == merge_field(a, merge_field(b, c))


@given(places(1))
def test_merging_is_idempotent(held: list[FieldState]) -> None:
    assert merge_field(held[0], held[0]) == held[0]


@given(histories(), st.randoms(use_true_random=False))
def test_the_order_versions_arrive_in_does_not_matter(vs: list[Version], rnd: object) -> None:
    shuffled = list(vs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    state: dict[str, FieldState] = {}
    for version in shuffled:
        state = apply(state, "name", version)
    assert state["name"] == field_state(vs)
    assert state["name"].winner.clock == max(v.clock for v in state["name"].versions)


@given(histories())
def test_nothing_outside_the_winner_s_past_is_silently_dropped(vs: list[Version]) -> None:
    # Oracle: the writes' own contexts, by their definition (what each author had received);
    # not the frontier rule. Every write is the winner, in the winner's past, a conflict
    # side, or in the past of one.
    state = field_state(vs)
    shown = [state.winner, *state.versions[:-1]]
    for v in vs:
        assert any(s.clock == v.clock or covers(s.seen, v.clock) for s in shown)
    for loser in state.losers:
        assert not covers(state.winner.seen, loser.clock)


def test_the_issue_s_offline_edit_under_two_later_edits_is_a_conflict() -> None:
    offline = w(3, "x", '"offline edit"')                 # A, offline
    by_b = w(5, "y", '"edit by B"')                        # B
    again = w(7, "y", '"second edit by B"', (5, "y"))    # B again, never received A's
    state = merge_field(field_state([by_b, again]), field_state([offline]))
    assert state.winner == again and state.losers == (offline,)


def test_the_same_history_stored_before_contexts_is_a_conflict_too() -> None:
    # Versions with no context (stored by an earlier release) see only their base.
    offline = Version(clock(3, "x"), "", '"offline edit"')
    by_b = Version(clock(5, "y"), "", '"edit by B"')
    again = Version(clock(7, "y"), clock(5, "y"), '"second edit by B"')
    state = merge_field(field_state([by_b, again]), field_state([offline]))
    assert [v.value for v in state.losers] == ['"offline edit"']


def test_a_later_edit_that_received_the_earlier_one_replaces_it_without_conflict() -> None:
    state = field_state([w(1, "a", '"李四"'), w(2, "b", '"李四四"', (1, "a"))])
    assert state.winner.value == '"李四四"' and not state.conflicted


def test_concurrent_edits_keep_the_loser_as_a_conflict() -> None:
    here, there = w(2, "a", '"张三"', (1, "c")), w(3, "b", '"张叁"', (1, "c"))
    state = field_state([w(1, "c", '"张"'), here, there])
    assert state.winner == there and state.losers == (here,)
    assert [c.field for c in conflicts({"name": state})] == ["name"]


def test_concurrent_edits_to_the_same_value_are_no_conflict() -> None:
    state = field_state([w(2, "a", '"同"'), w(3, "b", '"同"')])
    assert not state.conflicted


def test_a_resolution_that_saw_both_closes_the_conflict() -> None:
    state = {"name": field_state([w(2, "a", '"A"'), w(3, "b", '"B"')])}
    seen = settle_context(state, "name", state["name"].versions)
    choice = Version(clock(4, "c"), "", '"A"', "", join(seen, ((("c", clock(4, "c")),))))
    resolved = merge_field(state["name"], FieldState((choice,)))
    assert resolved.versions == (choice,)


def test_a_resolution_supersedes_only_what_the_clerk_was_shown() -> None:
    state = {"name": field_state([w(2, "a", '"A"'), w(3, "b", '"B"')])}
    shown = state["name"].versions
    later = w(5, "d", '"arrived after the screen was drawn"')
    state = apply(state, "name", later)
    choice = Version(clock(6, "c"), "", '"A"', "",
                     join(settle_context(state, "name", shown), ((("c", clock(6, "c")),))))
    after = apply(state, "name", choice)["name"]
    assert after.winner == choice and after.losers == (later,)


def test_a_delete_against_a_concurrent_edit_is_a_conflict_not_a_loss() -> None:
    record = {"name": field_state([w(1, "c", '"李四"')])}
    deleted_here = apply(record, DELETED, w(5, "a", "true", (1, "c")))
    edited_there = apply(record, "name", w(4, "b", '"李肆"', (1, "c")))
    merged = merge_record(deleted_here, edited_there)
    assert merged == merge_record(edited_there, deleted_here)
    assert is_deleted(merged)
    (conflict,) = conflicts(merged)
    assert conflict.field == DELETED and [x.value for x in conflict.losers] == ['"李肆"']
    assert values(merged)["name"] == '"李肆"'  # the edit is kept, not lost
    keep = Version(clock(6, "a"), "", "false", "", join(record_context(merged), (("a", clock(6, "a")),)))
    kept = apply(merged, DELETED, keep)
    assert not is_deleted(kept) and conflicts(kept) == []


def test_a_delete_made_offline_under_two_later_edits_is_a_conflict() -> None:
    record = {"phone": field_state([w(1, "c", '"1"')])}
    deleted = apply(record, DELETED, w(3, "x", "true", (1, "c")))       # A, offline
    first = apply(record, "phone", w(5, "y", '"2"', (1, "c")))           # B
    second = apply(first, "phone", w(7, "y", '"3"', (1, "c"), (5, "y")))  # B again
    merged = merge_record(deleted, second)
    (conflict,) = conflicts(merged)
    assert conflict.field == DELETED and [x.value for x in conflict.losers] == ['"3"']


def test_a_delete_after_receiving_every_edit_is_no_conflict() -> None:
    record = {"name": field_state([w(1, "a", '"李四"'), w(2, "b", '"李肆"', (1, "a"))])}
    deleted = apply(record, DELETED, w(3, "c", "true", (1, "a"), (2, "b")))
    assert is_deleted(deleted) and conflicts(deleted) == []


def test_a_change_s_versions_carry_its_context_and_its_own_clock() -> None:
    ((_, version),) = change_versions("update", {"phone": "1"}, clock(9, "a"), {"phone": clock(4, "b")},
                                      seen=(("b", clock(4, "b")),))
    assert version.seen == (("a", clock(9, "a")), ("b", clock(4, "b")))
    assert stored_seen(version) == {"b": clock(4, "b")}
    assert with_seen(version.clock, stored_seen(version)) == version.seen


def test_a_legacy_change_sees_only_its_base_and_its_own_station() -> None:
    assert legacy_context(clock(9, "a"), clock(4, "b")) == (("a", clock(9, "a")), ("b", clock(4, "b")))
    ((_, version),) = change_versions("update", {"phone": "1"}, clock(9, "a"), {"phone": clock(4, "b")})
    assert not covers(version.seen, clock(8, "c")) and covers(version.seen, clock(3, "b"))


def test_a_stored_state_names_each_write_s_clerk_once_and_reads_back_whole() -> None:
    from sync.merge import state_from_stored, state_to_stored

    add = [Version(clock(1, "a"), "", f'"{n}"', "", (("a", clock(1, "a")),), "张三") for n in "xyz"]
    edit = w(2, "b", '"y2"', (1, "a"))._replace(by="李四")
    state = {"f1": FieldState((add[0],)), "f2": field_state([add[1], edit]), "f3": FieldState((add[2],))}
    stored = state_to_stored(state)
    assert [v[-1] for vs in stored.values() for v in vs].count("张三") == 1  # one change, one name
    assert state_from_stored(stored) == state
    # The field that carried the name is gone from the state: the name moves to another.
    rest = {"f2": state["f2"], "f3": state["f3"]}
    assert state_from_stored(state_to_stored(rest)) == rest
