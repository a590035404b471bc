"""The county home: keys, TLS certificate and configuration of one county hub.

`county init` makes, in COUNTY_HOME (mode 0700):
  county.toml        the database URL (SQLite in the home by default), and how the hub is
                     served if county IT adds it (sync/hub/config.py)
  signing.key        Ed25519 (SM2 in a GM county): signs schema bundles (issue 5)
  recovery.key       X25519: the private half of every station's recovery keyslot
  data.key           the hub's data key: personal values are sealed with it at rest, and it is
                     kept out of the database so a database dump or backup holds nothing readable
  tls.crt, tls.key   the hub's self-signed certificate; stations pin it at enrollment
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import NameOID

from sync.crypto_suite import INTL, suite_named
from sync.errors import AlreadyInitialized
from sync.hub import config
from sync.hub.config import CONFIG, CountyConfig
from sync.hub.rules import Hub, HubClock
from sync.hub.storage import open_storage
from sync.private import write_private
from sync.schema import v1_schema

__all__ = ["CONFIG", "CountyConfig", "init", "load_config", "migrate", "open_hub", "public_keys",
           "self_signed_certificate"]


def _write_secret(path: Path, data: bytes) -> None:
    write_private(path, data, exclusive=True)


def init(home: Path, database: str | None = None, hosts: tuple[str, ...] = ("127.0.0.1",
                                                                            "localhost"),
         crypto: str = INTL) -> Path:
    """Create a county home; returns it. Refuses to overwrite an existing one. `crypto`
    names the county's suite (sync/crypto_suite.py), written in county.toml for good."""
    suite = suite_named(crypto)
    if (home / CONFIG).exists():
        raise AlreadyInitialized(f"{home} 中已有县级平台配置", f"a county hub already exists in {home}")
    url = database or f"sqlite:///{(home / 'hub.db').resolve()}"
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    storage = open_storage(url)
    storage.migrate()  # fail before writing anything if the database is unreachable
    storage.close()
    signing = suite.generate_signing_key()
    _write_secret(home / "signing.key", signing.private_bytes_raw())
    _write_secret(home / "recovery.key", X25519PrivateKey.generate().private_bytes_raw())
    _write_secret(home / "data.key", os.urandom(32))
    cert, key = self_signed_certificate(hosts)
    _write_secret(home / "tls.key", key)
    (home / "tls.crt").write_bytes(cert)
    text = f'database = "{url}"\n' + (f'crypto = "{crypto}"\n' if crypto != INTL else "")
    (home / CONFIG).write_text(text, encoding="utf-8")
    return home


def self_signed_certificate(hosts: tuple[str, ...]) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for the hub, valid ten years for the given hosts."""
    # ECDSA P-256: every TLS stack a kiosk might run speaks it (Ed25519 certificates do not
    # work with every client).
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Township Station county hub")])
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))




def load_config(home: Path, extra: Path | None = None) -> CountyConfig:
    """The home's county.toml, with the keys of `extra` (`county serve --config`) over it."""
    return config.load(home, extra)


def migrate(home: Path, settings: CountyConfig | None = None) -> list[int]:
    """Bring the hub's database to this release's storage version (the steps applied), or
    StorageTooNew for a database of a newer release."""
    storage = open_storage((settings or load_config(home)).database)
    try:
        return storage.migrate()
    finally:
        storage.close()


def open_hub(home: Path, settings: CountyConfig | None = None,
             clock: HubClock | None = None) -> Hub:
    """The hub of this county home, on the database `settings` names (default: the home's);
    `clock` for a test's own time (the wall clock by default)."""
    settings = settings or load_config(home)
    storage = open_storage(settings.database, pool_size=settings.pool_size)
    storage.migrate()
    return Hub(storage, (home / "data.key").read_bytes(), v1_schema(),
               clock or HubClock(lambda: time.time_ns() // 1_000_000), suite_named(settings.crypto))


def public_keys(home: Path) -> dict[str, str]:
    """What an enrolling station is given: the county's public keys, base64, and the suite
    they are of (the station checks it is its own)."""
    suite = suite_named(load_config(home).crypto)
    signing = suite.signing_key((home / "signing.key").read_bytes())
    recovery = X25519PrivateKey.from_private_bytes((home / "recovery.key").read_bytes())
    return {"county_signing_key": base64.b64encode(signing.public_key().public_bytes_raw()).decode(),
            "county_recovery_key": recovery.public_key().public_bytes_raw().hex(),
            "crypto": suite.name}
