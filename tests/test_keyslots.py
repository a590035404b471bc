"""Keyslots: each clerk's passphrase and the county's recovery key open the same data key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from station import keys
from station.store import Store
from sync.errors import ClerkError, LockedError, ValidationError, WrongPassphrase

from .conftest import PASSPHRASE, TOWNSHIP, FakeTime

PERSON = {"name": "李四", "id_number": "11010519491231002X", "grid": "440524001001"}


def reopen(store: Store, fake_time: FakeTime) -> Store:
    home = store.home
    store.close()
    return Store.open(home, clock=fake_time.clock())


def test_wrong_passphrase_is_refused_and_store_stays_locked(store: Store, fake_time: FakeTime) -> None:
    store = reopen(store, fake_time)
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        store.unlock("not the passphrase")
    assert not store.unlocked
    with pytest.raises(LockedError):
        store.add("person", PERSON)
    store.close()


def test_repeated_failures_make_the_next_attempt_wait_longer(store: Store, fake_time: FakeTime) -> None:
    store = reopen(store, fake_time)
    for _ in range(4):
        with pytest.raises(WrongPassphrase):
            store.unlock("wrong guess 123")
    with pytest.raises(WrongPassphrase, match="wait 4 s"):
        store.unlock("wrong guess 123")
    # Three free tries, then 1 s before the 4th attempt and 2 s before the 5th.
    assert fake_time.slept == [1.0, 2.0]
    assert store.unlock(PASSPHRASE) == "张三"
    assert fake_time.slept == [1.0, 2.0, 4.0]
    assert store.settings()["unlock_failures"] == "0"
    store.close()


def test_removing_one_of_two_clerks_leaves_the_other_able_to_open(
    store: Store, fake_time: FakeTime
) -> None:
    record_id = store.add("person", PERSON)
    store.add_clerk("王五", "another passphrase", keys.FAST_KDF)
    store.remove_clerk("张三")
    store = reopen(store, fake_time)
    with pytest.raises(WrongPassphrase):
        store.unlock(PASSPHRASE)
    assert store.unlock("another passphrase") == "王五"
    assert store.get("person", record_id)["fields"]["name"] == "李四"
    store.close()


def test_the_last_clerk_cannot_be_removed(store: Store) -> None:
    with pytest.raises(ClerkError, match="last clerk"):
        store.remove_clerk("张三")


def test_changed_passphrase_opens_and_old_one_does_not(store: Store, fake_time: FakeTime) -> None:
    store.change_passphrase("张三", "a brand new passphrase", keys.FAST_KDF)
    store = reopen(store, fake_time)
    with pytest.raises(WrongPassphrase):
        store.unlock(PASSPHRASE)
    assert store.unlock("a brand new passphrase", clerk="张三") == "张三"
    store.close()


def test_short_passphrase_and_duplicate_clerk_are_refused(store: Store) -> None:
    with pytest.raises(ValidationError) as err:
        store.add_clerk("王五", "short", keys.FAST_KDF)
    assert err.value.field == "passphrase"
    with pytest.raises(ClerkError, match="already exists"):
        store.add_clerk("张三", "long enough passphrase", keys.FAST_KDF)


def test_county_recovery_key_opens_a_store_whose_clerks_are_gone(tmp_path: Path) -> None:
    county = X25519PrivateKey.generate()
    public = county.public_key().public_bytes_raw()
    store = Store.create(tmp_path / "s", township=TOWNSHIP, name="站", clerk="张三",
                         passphrase=PASSPHRASE, kdf=keys.FAST_KDF, county_public_key=public)
    record_id = store.add("person", PERSON)
    store.close()
    store = Store.open(tmp_path / "s")
    with pytest.raises(WrongPassphrase):
        store.unlock_with_recovery(X25519PrivateKey.generate().private_bytes_raw())
    store.unlock_with_recovery(county.private_bytes_raw())
    assert store.get("person", record_id)["fields"]["name"] == "李四"
    store.add_clerk("新办事员", "recovered passphrase", keys.FAST_KDF)
    store.close()


def test_standard_kdf_is_argon2id_with_the_documented_cost(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "s", township=TOWNSHIP, name="站", clerk="张三",
                         passphrase=PASSPHRASE)
    (slot,) = store.clerks()
    assert slot["kdf"] == {"kdf": "argon2id", "memory_kib": 196_608, "iterations": 3, "lanes": 4}
    store.close()


def test_scrypt_slots_open_too(store: Store, fake_time: FakeTime) -> None:
    store.add_clerk("王五", "scrypt passphrase", keys.KdfParams(kdf="scrypt", memory_kib=16_384,
                                                                 iterations=1, lanes=1))
    store = reopen(store, fake_time)
    assert store.unlock("scrypt passphrase") == "王五"
    store.close()
