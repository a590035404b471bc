"""The hub's TLS certificate as stations pin it: one fingerprint, computed one way.

The county prints it when it enrolls a station; the station checks it before it trusts the
hub, then pins the certificate itself. Both sides must agree on the bytes hashed, so this is
the only definition.
"""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate (DER), lower-case hex, as pinned by stations."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()
