"""Blind indexes: lookup on sealed fields without opening the table.

Each indexed field has its own HMAC-SHA256 key, derived from the data key with HKDF, so equal
values in two fields do not show as equal. The MAC is truncated to `bits` bits on purpose: at
the county's scale (160,000 people) 16 bits leave two or three candidates per bucket, which the
store opens and compares. A leaked index key then cannot be used to walk the small ID-number
space (about 2**37 values) back to real numbers, as a full-length MAC would allow.

The derived forms a clerk searches by (a surname, pinyin initials, an ID number's or a phone's
last digits) have indexes of their own, each with its own key and a width chosen for it
(`station.search_forms.DERIVED_BITS`; docs/SECURITY.md says what each reveals).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from sync.crypto_suite import INTL_SUITE, CryptoSuite
from sync.seal import subkey

DEFAULT_BITS = 16


class BlindIndex:
    """Buckets under the data key; `older` keys (a rekey under way, station/rekey.py) are
    looked up too, since the records not yet re-sealed are still indexed under them."""

    def __init__(self, data_key: bytes, bits: int = DEFAULT_BITS,
                 suite: CryptoSuite = INTL_SUITE, older: Iterable[bytes] = ()) -> None:
        if not 8 <= bits <= 32:
            raise ValueError("blind index width must be 8-32 bits")
        self._data_key = data_key
        self._bits = bits
        self._keys: dict[str, bytes] = {}
        self._suite = suite  # gm: HKDF-SM3 keys and HMAC-SM3 (sync/crypto_suite.py)
        self._derive = subkey if suite is INTL_SUITE else suite.subkey
        self._hash = suite.hash_name
        self._older = [BlindIndex(key, bits, suite) for key in older]

    def older(self) -> BlindIndex | None:
        """The index under the older key a rekey under way holds (None: no rekey)."""
        return self._older[0] if self._older else None

    def buckets(self, field_key: str, normalised: str, bits: int | None = None) -> set[int]:
        """Every bucket a record holding this value can be found in: the data key's and, part
        way through a rekey, the older key's. A lookup reads them all and compares what it
        finds, so an extra bucket costs time, never a wrong answer."""
        return {self.bucket(field_key, normalised, bits),
                *(old.bucket(field_key, normalised, bits) for old in self._older)}


    def bucket(self, field_key: str, normalised: str, bits: int | None = None) -> int:
        """The bucket of a normalised value in the index of `field_key` ('entity.field', or
        'entity.field#form' for a derived form, station/search_forms.py), `bits` wide (the
        store's width for whole values unless given)."""
        key = self._keys.get(field_key)
        if key is None:
            key = self._keys[field_key] = self._derive(self._data_key, f"blind-index|{field_key}")
        # The digest named as a string takes OpenSSL's one-shot HMAC; a hashlib constructor
        # falls back to the pure-Python HMAC, measured at 2.5x slower.
        digest = hmac.digest(key, normalised.encode("utf-8"), self._hash)
        return int.from_bytes(digest[:4], "big") >> (32 - (bits or self._bits))
