"""Who may use the county dashboard, and what they did: accounts with their roles, logins
(throttled after wrong passwords), sessions, and the audit trail. The rules are pure and
live beside this file (`accounts`, `throttle`, `audit`); this class keeps their state in the
hub's database, so that every `county serve` worker sees the same.

Sessions live 8 hours; the hub stores only a hash of each token, and reads the account's
role at every request, so a removed account or a new password ends its sessions at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from sync.errors import LoginThrottled, ValidationError
from sync.hub import accounts, throttle
from sync.hub.accounts import ADMIN, VIEWER
from sync.hub.audit import Actor, Entry
from sync.hub.rules import Hub
from sync.hub.storage import Tx
from sync.hub.tables import when

SESSION_S = 8 * 3600
AUDIT_PAGE = 50  # rows per page of /audit


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class Access:
    def __init__(self, hub: Hub, clock_ms: Callable[[], int]) -> None:
        self.hub, self.clock_ms = hub, clock_ms

    # ---------------------------------------------------------------- the audit trail

    def record(self, actor: Actor, action: str, target: str = "", outcome: str = "ok") -> None:
        with self.hub.storage.transaction() as tx:
            self._record(tx, actor, action, target, outcome)

    def _record(self, tx: Tx, actor: Actor, action: str, target: str, outcome: str) -> None:
        tx.add_audit(_iso(self.clock_ms()), actor.account, actor.role, actor.address, action,
                     target, outcome)

    def audit(self, page: int = 1) -> tuple[list[Entry], int]:
        """One page of the audit trail, newest first, and how many pages there are."""
        with self.hub.storage.transaction() as tx:
            rows, count = tx.audit(AUDIT_PAGE, (page - 1) * AUDIT_PAGE), tx.audit_count()
        return [Entry(*row) for row in rows], max(1, -(-count // AUDIT_PAGE))

    # ---------------------------------------------------------------- accounts

    def add_account(self, name: str, password: str, role: str | None = None,
                    actor: Actor | None = None) -> bool:
        """A new account, or False when the name is taken. Without a role: an admin while the
        hub has none (the first account), else a viewer, the lesser role."""
        accounts.check_account(name, password)
        if role is not None:
            accounts.check_role(role)
        hashed = accounts.hash_password(password)
        with self.hub.storage.transaction() as tx:
            has_admin = bool(tx.admins())
            given = role or (VIEWER if has_admin else ADMIN)
            first_viewer = given != ADMIN and not has_admin
            added = not first_viewer and tx.add_account(name, hashed, _iso(self.clock_ms()), given)
            if actor is not None:
                self._record(tx, actor, "user_add", f"{name} ({given})", "ok" if added else "refused")
        if first_viewer:
            raise ValidationError("role", "first_admin", "平台还没有管理员：第一个账号必须是管理员",
                                  "the hub has no admin yet: the first account must be an admin")
        return added

    def remove_account(self, name: str, actor: Actor) -> None:
        """Forget an account and end its sessions; refused for the last admin."""
        with self.hub.storage.transaction() as tx:
            admins = tx.admins()  # locked first: see Tx.admins
            found = tx.account(name)
            refused = None
            if found is None:
                refused = ValidationError("name", "unknown", f"没有账号 {name}", f"no account {name}")
            elif found[1] == ADMIN and admins == [name]:
                refused = ValidationError(
                    "name", "last_admin", "不能删除最后一个管理员：平台至少要有一个管理员账号",
                    "the last admin cannot be removed: the hub keeps at least one admin account")
            else:
                tx.remove_account(name)
            self._record(tx, actor, "user_remove", name, "refused" if refused else "ok")
        if refused is not None:
            raise refused

    def set_password(self, name: str, password: str, actor: Actor) -> None:
        """A new password; every session of the account ends and its lock, if any, lifts."""
        accounts.check_account(name, password)
        hashed = accounts.hash_password(password)
        with self.hub.storage.transaction() as tx:
            changed = tx.set_password(name, hashed)
            if changed:
                tx.forget_login_failures("", self._key("account", name))
            self._record(tx, actor, "user_passwd", name, "ok" if changed else "refused")
        if not changed:
            raise ValidationError("name", "unknown", f"没有账号 {name}", f"no account {name}")

    # ---------------------------------------------------------------- logging in and out

    def _key(self, kind: str, value: str) -> str:
        return throttle.key(kind, value, self.hub.throttle_secret)

    def _keys(self, name: str, address: str) -> dict[str, throttle.Rule]:
        keys = {self._key("account", name): throttle.ACCOUNT}
        if address:
            keys[self._key("address", address)] = throttle.ADDRESS
        return keys

    def _locked_until(self, tx: Tx, keys: dict[str, throttle.Rule], now: int) -> int | None:
        memory = max(rule.memory_ms for rule in keys.values())
        failures = tx.login_failures(list(keys), now - memory)
        until = [t for k, rule in keys.items()
                 if (t := throttle.locked_until(failures[k], now, rule)) is not None]
        return max(until) if until else None

    def _throttled(self, until: int) -> LoginThrottled:
        return LoginThrottled(until, when(_iso(until)))

    def log_in(self, name: str, password: str, address: str = "") -> tuple[str, str] | None:
        """(session token, CSRF token), or None for a wrong name or password; LoginThrottled
        while the name or the address is locked (then no password is checked at all)."""
        now, keys, attempt = self.clock_ms(), self._keys(name, address), secrets.token_hex(16)
        with self.hub.storage.transaction() as tx:
            tx.serialise_logins()
            found = tx.account(name)
            until = self._locked_until(tx, keys, now)
            if until is None:
                # Counted as a failure before the password is checked, so that guesses sent
                # in parallel cannot all slip in under the limit; a right one is uncounted.
                tx.add_login_failures(list(keys), now, attempt)
            else:
                self._record(tx, self._who(name, found, address), "login", "", "locked")
        if until is not None:
            raise self._throttled(until)
        stored = found[0] if found else None
        right = accounts.verify_password(password, stored or accounts.dummy_hash()) and found is not None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.hub.storage.transaction() as tx:
            if right:
                tx.forget_login_failures(attempt, self._key("account", name))
                tx.add_session(accounts.token_hash(token), name, csrf, now + SESSION_S * 1000)
            else:
                until = self._locked_until(tx, keys, now)
            self._record(tx, self._who(name, found, address), "login", "", "ok" if right else "failed")
        if until is not None:
            raise self._throttled(until)
        return (token, csrf) if right else None

    @staticmethod
    def _who(name: str, found: tuple[str, str] | None, address: str) -> Actor:
        # A name that is no account is not kept: it may be a password typed in the wrong box.
        return Actor(name, found[1], address) if found else Actor("", "", address)

    def session(self, token: str) -> tuple[str, str, str] | None:
        """(account, CSRF token, role) of a live session."""
        with self.hub.storage.transaction() as tx:
            return tx.session(accounts.token_hash(token), self.clock_ms())

    def log_out(self, token: str, actor: Actor) -> None:
        with self.hub.storage.transaction() as tx:
            tx.end_session(accounts.token_hash(token))
            self._record(tx, actor, "logout", "", "ok")
