"""The device's identity: an Ed25519 key made on its first boot, kept on the data
partition. Provisioning enrolls its public half, so a configuration server can tell this
box from any other (and sign what only it should read)."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .config.store import write_atomic
from .config.target import ConfigError

KEY_FILE = Path("/var/lib/spicebox/identity.key")


def public_key(key: Ed25519PrivateKey) -> str:
    """The public half as one line: ``ed25519:BASE64``."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return "ed25519:" + base64.b64encode(raw).decode()


def load(path: Path = KEY_FILE) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: run `spicebox identity --create`") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the device key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return key


def create(path: Path = KEY_FILE) -> Ed25519PrivateKey:
    """A new key, unless there is one already (the identity never changes by itself)."""
    if path.exists():
        return load(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_atomic(path, pem, 0o600)
    return key
