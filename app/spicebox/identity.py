"""The device's identity: an Ed25519 key made on its first boot, kept on the data
partition. Provisioning enrolls its public half, so a configuration server can tell this
box from any other (and sign what only it should read)."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .config.store import write_atomic
from .config.target import ConfigError

KEY_FILE = Path("/var/lib/spicebox/identity.key")


def public_key(key: Ed25519PrivateKey) -> str:
    """The public half as one line: ``ed25519:BASE64``."""
    return public_text(key.public_key())


def public_text(key: Ed25519PublicKey) -> str:
    """A public key as one line, ``ed25519:BASE64``: device keys and provisioning's."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + base64.b64encode(raw).decode()


def load(path: Path = KEY_FILE) -> Ed25519PrivateKey:
    if not path.exists():
        raise ConfigError(f"{path} does not exist: run `spicebox identity --create`")
    return read_key(path, "the device key")


def read_key(path: Path, what: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (``what`` names it in the error)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return key


def write_key(path: Path, key: Ed25519PrivateKey) -> None:
    """``key`` as PEM, readable by its owner only."""
    write_atomic(path, key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()), 0o600)


def create(path: Path = KEY_FILE) -> Ed25519PrivateKey:
    """A new key, unless there is one already (the identity never changes by itself)."""
    if path.exists():
        return load(path)
    key = Ed25519PrivateKey.generate()
    write_key(path, key)
    return key
