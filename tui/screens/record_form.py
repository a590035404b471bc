"""A record's form screen: add or edit one record with the form built from the schema
(tui/widgets/record_form.py). Saving goes through the store's one write path: a bad value is
named beside its field and nothing is saved; a good form is saved whole. An edited record's
personal values show as dots until the clerk reveals one (Ctrl+R on its field), which the
store records like a reveal on the record's own screen."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Input

from station.store import Store
from sync.errors import AlreadyRegistered, TownshipError, ValidationError
from sync.register import key_of
from sync.schema import EntityDef, FieldDef
from tui.i18n import text
from tui.screens.registered import RegisteredScreen
from tui.widgets.footer import KeyFooter
from tui.widgets.record_form import RecordFields

if TYPE_CHECKING:
    from tui.app import StationApp


class RecordForm(Screen[str | None]):
    """Add (record_id None) or edit one record; dismisses with the saved id, or None."""

    app: StationApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "保存", priority=True),
        Binding("ctrl+r", "reveal", "显示", priority=True),
        Binding("escape", "cancel", "返回"),
    ]

    def __init__(self, store: Store, entity: str, record_id: str | None = None,
                 add: Callable[[dict[str, Any]], str] | None = None, *,
                 only: Sequence[str] | None = None, given: Mapping[str, Any] | None = None,
                 title: str | None = None) -> None:
        """`add` saves a new record another way than a plain add (a case opens with its first
        step event); it must go through the store's write path and raise as it does.
        `only`: the fields the clerk fills (the rest are the caller's); `given`: values a new
        record's form starts with; `title`: instead of "New <entity>"."""
        super().__init__()
        self.store = store
        self.entity_name = entity
        self.record_id = record_id
        self.original: dict[str, Any] = {}
        self.add = add
        self.only = set(only) if only is not None else None
        self.given = dict(given or {})
        self.title_text = title
        # The registered record the clerk chose to open instead of adding this one (the
        # caller opens it: this screen cannot import the record screen, which imports it).
        self.existing: str | None = None
        self._asked: str | None = None  # the key last shown as registered, not asked again

    @property
    def entity(self) -> EntityDef:
        return self.store.schema.entity(self.entity_name)

    def fields(self) -> list[FieldDef]:
        """Current fields, and a retired one only where this record still holds a value."""
        return [f for f in self.entity.fields
                if (not f.deprecated or f.name in self.original)
                and (self.only is None or f.name in self.only)]

    @property
    def form(self) -> RecordFields:
        return self.query_one(RecordFields)

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        if self.record_id:
            self.original = dict(self.store.get(self.entity_name, self.record_id)["fields"])
        title = self.title_text or text("form.edit" if self.record_id else "form.add", lang,
                                        entity=self.entity.label(lang))
        yield Header()
        hidden = [f.name for f in self.fields() if f.sensitive] if self.record_id else []
        yield RecordFields(self.fields(), self.original or self.given, title=title, lang=lang,
                           code_tables=dict(self.store.schema.code_tables),
                           editing=bool(self.record_id), hidden=hidden)
        yield KeyFooter()

    def on_mount(self) -> None:
        first = self.query("#form Input, #form Select").first()
        first.focus()

    def action_save(self) -> None:
        self.form.clear_errors()
        lang = self.app.lang
        values = self.form.values()
        try:
            if self.record_id:
                if not values or not self.store.update(self.entity_name, self.record_id, values):
                    self.notify(text("form.unchanged", lang))
                    self.dismiss(None)
                    return
                saved = self.record_id
            else:
                saved = (self.add or (lambda v: self.store.add(self.entity_name, v)))(values)
        except AlreadyRegistered as exc:
            if self.record_id:  # an edit onto another's number: named beside the field
                self.show_error(exc)
            else:
                self.offer(self.store.get(self.entity_name, exc.existing))
            return
        except ValidationError as exc:
            self.show_error(exc)
            return
        except TownshipError as exc:
            self.notify(exc.message(lang), severity="error")
            return
        self.notify(text("form.saved", lang))
        self.dismiss(saved)

    # -- an ID number (credit code) already registered
    @on(Input.Changed)
    def key_typed(self, event: Input.Changed) -> None:
        """A whole key typed (its full length): look it up at once."""
        f = self.entity.key_field
        if f is not None and event.input.id == f"field-{f.name}" and f.max_length \
                and len(event.value.strip()) == f.max_length:
            self.look_up(event.value)

    @on(Input.Blurred)
    def key_left(self, event: Input.Blurred) -> None:
        """Leaving the key's field (a legacy 15-digit number is shorter than the field)."""
        f = self.entity.key_field
        if f is not None and event.input.id == f"field-{f.name}":
            self.look_up(event.value)

    def look_up(self, value: str) -> None:
        """Show the record already registered under this key, if any (a new record only;
        an edit that would take another's key is refused when saved)."""
        f = self.entity.key_field
        if self.record_id or f is None:
            return
        values = {f.name: value.strip()}
        key = key_of(self.entity, values)
        if key is None or key == self._asked:
            return
        found = self.store.registered(self.entity_name, values)
        if found is not None:
            self._asked = key
            self.offer(found)

    def offer(self, record: dict[str, Any]) -> None:
        """The registered record, masked; Enter opens it instead of adding a second one."""
        def answered(open_it: bool | None) -> None:
            if open_it:
                self.existing = record["id"]
                self.dismiss(None)

        self.app.push_screen(RegisteredScreen(self.store, record, self.app.lang), answered)

    def show_error(self, exc: ValidationError) -> None:
        """The message beside the field it is about (focus goes there), or a notice when the
        rule is about no field of this form."""
        if self.form.show_error(exc):
            self.notify(text("form.fix", self.app.lang), severity="warning")
        else:
            self.notify(exc.message(self.app.lang), severity="error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The reveal key only where there is something hidden (an edited record's form)."""
        if action == "reveal":
            return bool(self.record_id) and any(f.sensitive for f in self.fields())
        return True

    def action_reveal(self) -> None:
        """Show the focused field's whole value, the reveal recorded first."""
        assert self.record_id is not None
        name = self.form.hidden_field(self.focused)
        if name is None:
            self.notify(text("reveal.pick", self.app.lang))
            return
        self.store.reveal(self.entity_name, self.record_id, name)
        self.form.unhide(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
