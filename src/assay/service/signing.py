"""The instance's Ed25519 key: it signs ledger seals and report digests, and its public half is
all an auditor needs to verify them offline (`assay keys public`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import AccessDeniedError

ALGORITHM = "Ed25519"


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify_signature(public_key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        public_key.verify(base64.b64decode(signature_b64), message)
        return True
    except (InvalidSignature, ValueError):
        return False


class Signer:
    def __init__(self, private_key: Ed25519PrivateKey):
        self._private = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._private.sign(message)).decode()

    def verify(self, signature_b64: str, message: bytes) -> bool:
        return verify_signature(self.public_key, signature_b64, message)

    # -- signed links: like S3 presigned URLs, the link itself is the credential ---------------

    def link_signature(self, purpose: str, name: str, expires: int) -> str:
        """URL-safe signature of a link to ``name`` for ``purpose`` (upload, report download),
        valid until ``expires`` (epoch seconds)."""
        raw = base64.b64decode(self.sign(f"assay-{purpose}/v1|{name}|{expires}".encode()))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def check_link(self, purpose: str, name: str, expires: str, signature: str,
                   now: float | None = None) -> None:
        """Refuse a link that is malformed, was altered or has expired."""
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            raise AccessDeniedError(f"The {purpose} URL is malformed.")
        if not signature or not hmac.compare_digest(
                signature, self.link_signature(purpose, name, expires_at)):
            raise AccessDeniedError(f"The {purpose} URL's signature does not match.")
        if (now if now is not None else time.time()) > expires_at:
            raise AccessDeniedError(f"The {purpose} URL has expired.")

    @property
    def public_pem(self) -> str:
        return public_pem(self.public_key)


def load_signer(home: Path, configured: str = "") -> Signer:
    """The signing key: ASSAY_SIGNING_KEY (a PEM file path) or ``<home>/signing-key.pem``,
    created on first start (mode 0600). Servers sharing a database must share this key."""
    path = Path(configured).expanduser() if configured else home / "signing-key.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return Signer(key)
