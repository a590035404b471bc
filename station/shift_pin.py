"""The shift PIN: a short-lived second key to reopen the kiosk after an idle lock.

The kiosk locks itself when idle, so a clerk unlocks it many times a shift; with the full
Argon2id cost (over 4 s on a low-cost board) that is too slow. At the first unlock of a shift
(the passphrase, full cost) the clerk may choose a PIN of 6-8 digits. The data key is then
wrapped under

    KEK = HKDF(Argon2id(PIN, salt, 16 MiB, t=2) || secret)

where `secret` is 32 random bytes. The whole slot (salt, secret, wrapped key, whose it is, until
when, tries left) lives only in this object, in the running process's memory: it is never
written to the store, so it can never be synced, backed up or copied with the disk. It is
destroyed at the end of the shift (12 h after it was made), after the third wrong PIN of the
shift (a right one in between does not reset the count), at the
next passphrase unlock, and with the process. docs/SECURITY.md says what it weakens.
"""

from __future__ import annotations

import os
from itertools import pairwise

from station import keys
from sync.errors import PinUnavailable, ValidationError, WrongPassphrase, WrongPin
from sync.seal import subkey

# Cheap on purpose: 16 MiB, 2 passes, one lane costs ~40 ms of CPU on the development machine,
# ~0.2 s under a quarter of a core. What guards the PIN is the try limit and the secret that
# never leaves memory, not the cost of a guess.
PIN_KDF = keys.KdfParams(memory_kib=16_384, iterations=2, lanes=1)
SHIFT_MS = 12 * 3600 * 1000
MAX_WRONG = 3
MIN_DIGITS, MAX_DIGITS = 6, 8
SECRET_BYTES = 32
_PURPOSE = "township-station shift pin v1"


def check_pin(pin: str) -> None:
    """6-8 digits, and not one an onlooker guesses first (one digit repeated, a run)."""
    if not (MIN_DIGITS <= len(pin) <= MAX_DIGITS and pin.isascii() and pin.isdigit()):
        raise ValidationError("pin", "digits", f"班次密码应为 {MIN_DIGITS}–{MAX_DIGITS} 位数字",
                              f"a PIN is {MIN_DIGITS}-{MAX_DIGITS} digits")
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    if steps in ({0}, {1}, {9}):
        raise ValidationError("pin", "guessable", "班次密码太容易猜到（同一数字重复或连续数字）",
                              "this PIN is too easy to guess (one digit repeated, or a run)")


class ShiftPin:
    """One clerk's PIN slot for one shift. `now_ms` is the store's wall clock (tests move it)."""

    def __init__(self, data_key: bytes, clerk: str, pin: str, now_ms: int,
                 kdf: keys.KdfParams = PIN_KDF) -> None:
        check_pin(pin)
        self.clerk = clerk
        self.made_ms = now_ms
        self.expires_ms = now_ms + SHIFT_MS
        self.tries_left = MAX_WRONG
        self._kdf = kdf
        self._salt = keys.new_salt()
        self._secret: bytes | None = os.urandom(SECRET_BYTES)
        self._wrapped: bytes | None = keys.wrap(self._kek(pin), data_key)

    def _kek(self, pin: str) -> bytes:
        assert self._secret is not None
        return subkey(keys.derive_kek(pin, self._salt, self._kdf) + self._secret, _PURPOSE)

    def live(self, now_ms: int) -> bool:
        """Not destroyed, and within its shift (a clock set back before it was made ends it)."""
        return self._wrapped is not None and self.made_ms <= now_ms < self.expires_ms

    def destroy(self) -> None:
        """Forget the secret and the wrapped key: nothing is left that a PIN could open."""
        self._secret = None
        self._wrapped = None
        self.tries_left = 0

    def open(self, pin: str, now_ms: int) -> bytes:
        """The data key; WrongPin (with the tries left) or PinUnavailable once it is gone."""
        if not self.live(now_ms):
            self.destroy()
            raise PinUnavailable("班次密码已失效，请输入口令",
                                 "the shift PIN has expired; type the passphrase")
        assert self._wrapped is not None
        try:
            return keys.unwrap(self._kek(pin), self._wrapped)
        except WrongPassphrase:  # this PIN's KEK does not open the slot
            self.tries_left -= 1
            if self.tries_left <= 0:
                self.destroy()
                raise PinUnavailable(f"班次密码已错 {MAX_WRONG} 次，已作废，请输入口令",
                                     f"{MAX_WRONG} wrong PINs: the PIN is void; type the passphrase"
                                     ) from None
            raise WrongPin(f"班次密码不正确，还可再试 {self.tries_left} 次",
                           f"wrong PIN; {self.tries_left} tries left") from None
