"""The published provisioning tree: a static site any HTTP(S) server or CDN can serve.

``index.json`` names every document with its SHA-256, the groups devices are enrolled in,
and a version that each publish raises; ``index.json.sig`` is its Ed25519 signature by the
administrators' key. A device fetches the index and its signature, checks both, then
fetches only the documents that concern it and checks each against the signed hash: a
document that is not what the index says is refused like a bad signature.

The index may also name firmware: for each update channel and board, an update bundle
(``firmware/BOARD-VERSION.tar``) with its build number, size and SHA-256, so a bundle is
as trusted as the index that names it.

Documents are TOML in the local configuration's own schema. A device's configuration is
``default.toml``, then its group's (``groups/NAME.toml``), then its own
(``devices/ID.toml``, ID being its identity key's fingerprint or a MAC address), later
ones winning key by key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import shutil
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..config.store import check_document, merged, write_atomic
from ..config.target import ConfigError
from ..identity import public_text, read_key, write_key
from ..system.errors import UpdateError
from ..system.update import read_manifest, sha256_of

FORMAT = "spicebox-provisioning 1"
INDEX, SIGNATURE = "index.json", "index.json.sig"
DEFAULT = "default"
MAX_INDEX = 1024 * 1024
MAX_DOCUMENT = 1024 * 1024
FIRMWARE = "firmware"
CHANNEL = r"[A-Za-z0-9][\w.-]{0,31}"


class Refused(ConfigError):
    """A provisioning document that must not be applied: the message says why."""


# --- keys -------------------------------------------------------------------------------


def parse_public(text: str, source: str) -> Ed25519PublicKey:
    kind, _, data = text.strip().partition(":")
    try:
        raw = base64.b64decode(data, validate=True)
        if kind != "ed25519" or len(raw) != 32:
            raise ValueError
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        raise ConfigError(f"{source} is not an ed25519:BASE64 public key") from None


def fingerprint(key_text: str) -> str:
    """A key's short name in the tree (devices/FINGERPRINT.toml): 16 hex digits."""
    return hashlib.sha256(key_text.strip().encode()).hexdigest()[:16]


def keygen(directory: Path) -> str:
    """A new signing key: DIR/signing.key (0600) and DIR/signing.pub; the public text."""
    key_path = directory / "signing.key"
    if key_path.exists():
        raise ConfigError(f"{key_path} exists: a new key would orphan every device that "
                          f"trusts it; remove it first if that is what you want")
    key = Ed25519PrivateKey.generate()
    directory.mkdir(parents=True, exist_ok=True)
    write_key(key_path, key)
    text = public_text(key.public_key())
    write_atomic(directory / "signing.pub", (text + "\n").encode(), 0o644)
    return text


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    return read_key(path, "the signing key")


# --- publishing -------------------------------------------------------------------------


def publish(key: Ed25519PrivateKey, profiles: Path, out: Path,
            firmware: Mapping[str, Path] | None = None) -> int:
    """Sign ``profiles`` (default.toml, groups/*.toml, devices/*.toml, enrollment.toml)
    into the site ``out``; returns its version, above any ``out`` had before. Firmware
    the site named stays named; ``firmware`` (update channel -> bundle) adds or replaces
    a channel's bundle for the bundle's board."""
    documents: dict[str, bytes] = {}
    for path in sorted(profiles.rglob("*.toml")):
        name = path.relative_to(profiles).with_suffix("").as_posix()
        if name == "enrollment":
            continue
        if name != DEFAULT and not name.startswith(("groups/", "devices/")):
            raise ConfigError(f"{path}: documents are default.toml, groups/NAME.toml and "
                              f"devices/ID.toml")
        data = path.read_bytes()
        check_document(_toml(data, str(path)), str(path))
        documents[name] = data
    if DEFAULT not in documents:
        raise ConfigError(f"{profiles} has no default.toml")
    enrollment = _enrollment(profiles / "enrollment.toml")
    previous: dict[str, Any] = {}
    if (out / INDEX).is_file():
        previous = json.loads((out / INDEX).read_bytes())
    # Seconds since 1970, and always above the last: a site published afresh into an
    # empty directory still outranks what devices hold.
    version = max(int(previous.get("version", 0)) + 1, int(time.time()))
    index = {"format": FORMAT, "version": version, "groups": enrollment,
             "documents": {name: {"path": f"{name}.toml",
                                  "sha256": hashlib.sha256(data).hexdigest()}
                           for name, data in documents.items()},
             FIRMWARE: _firmware(previous.get(FIRMWARE, {}), firmware or {}, out)}
    for name, data in documents.items():
        write_atomic(out / f"{name}.toml", data, 0o644)
    body = json.dumps(index, indent=1, sort_keys=True).encode() + b"\n"
    # The signature first: a device that sees the new index also finds its signature.
    write_atomic(out / SIGNATURE, base64.b64encode(key.sign(body)) + b"\n", 0o644)
    write_atomic(out / INDEX, body, 0o644)
    return version


def _firmware(published: dict[str, dict[str, Any]], added: Mapping[str, Path],
              out: Path) -> dict[str, dict[str, Any]]:
    """The index's firmware: what was published, with ``added``'s bundles copied in."""
    firmware = {channel: dict(boards) for channel, boards in published.items()}
    for channel, bundle in added.items():
        if not re.fullmatch(CHANNEL, channel):
            raise ConfigError(f"{channel!r} is not an update channel name (letters, digits, "
                              f"., - and _)")
        try:
            manifest = read_manifest(bundle)
        except UpdateError as exc:
            raise ConfigError(str(exc)) from None
        path = f"{FIRMWARE}/{manifest['board']}-{manifest['version']}.tar"
        (out / FIRMWARE).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle, out / path)
        firmware.setdefault(channel, {})[manifest["board"]] = {
            "version": manifest["version"], "build": manifest["build"], "path": path,
            "size": (out / path).stat().st_size, "sha256": sha256_of(out / path)}
    return firmware


def _enrollment(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    doc = _toml(path.read_bytes(), str(path))
    devices = doc.get("devices", {})
    if not isinstance(devices, Mapping) or not all(
            isinstance(v, str) for v in devices.values()):
        raise ConfigError(f"{path}: [devices] maps device ids to group names")
    return {str(k).lower(): v for k, v in devices.items()}


# --- on the device ----------------------------------------------------------------------


@dataclass(frozen=True)
class Firmware:
    version: str
    build: int
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Index:
    version: int
    groups: Mapping[str, str]
    documents: Mapping[str, Mapping[str, str]]
    firmware: Mapping[str, Mapping[str, Firmware]]  # channel -> board -> bundle

    def wanted(self, device_ids: Iterable[str]) -> list[str]:
        """The documents that make up a device's configuration, in merge order."""
        ids = [i.lower() for i in device_ids]
        names = [DEFAULT]
        group = next((self.groups[i] for i in ids if i in self.groups), None)
        if group is not None and f"groups/{group}" in self.documents:
            names.append(f"groups/{group}")
        names += [f"devices/{i}" for i in ids if f"devices/{i}" in self.documents]
        return names


def verify_index(body: bytes, signature: bytes, trusted: Ed25519PublicKey) -> Index:
    if len(body) > MAX_INDEX:
        raise Refused(f"the index is {len(body)} bytes, more than a site's ever is")
    if not signed_by(trusted, signature.strip(), body):
        raise Refused("the index's signature is not the trusted key's: nothing applied")
    try:
        doc: Any = json.loads(body)
        version, groups, documents = doc["version"], doc["groups"], doc["documents"]
        if doc["format"] != FORMAT or not isinstance(version, int) or not all(
                isinstance(d, Mapping) and isinstance(d.get("path"), str)
                and isinstance(d.get("sha256"), str) for d in documents.values()) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in groups.items()):
            raise ValueError
        firmware = {channel: {board: Firmware(**bundle) for board, bundle in boards.items()}
                    for channel, boards in doc.get(FIRMWARE, {}).items()}
        if not all(isinstance(f.version, str) and isinstance(f.build, int)
                   and isinstance(f.path, str) and isinstance(f.size, int)
                   and isinstance(f.sha256, str)
                   for boards in firmware.values() for f in boards.values()):
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Refused(f"the index is signed but not a {FORMAT} index: nothing applied"
                      ) from None
    return Index(version, groups, documents, firmware)


def document(index: Index, name: str, data: bytes) -> dict[str, Any]:
    """A fetched document, checked against the signed index and the settings' schema."""
    expected = index.documents[name]["sha256"]
    if len(data) > MAX_DOCUMENT or hashlib.sha256(data).hexdigest() != expected:
        raise Refused(f"{name}.toml is not the document the signed index names: nothing "
                      f"applied")
    doc = _toml(data, f"{name}.toml")
    check_document(doc, f"{name}.toml")
    return doc


def configuration(documents: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for doc in documents:
        result = merged(result, doc)
    return result


def _toml(data: bytes, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise Refused(f"{source} is not valid TOML ({exc}): nothing applied") from None


# --- files signed on their own -----------------------------------------------------------

SIGNED = "spicebox-sha256:"  # what a .sig file's signature is over: this and the hex digest


def sign_file(key: Ed25519PrivateKey, path: Path) -> Path:
    """PATH.sig: the file's SHA-256 and the key's signature of it, for a file that travels
    without the site (a firmware bundle on a USB stick, say)."""
    digest = sha256_of(path)
    signature = base64.b64encode(key.sign(f"{SIGNED}{digest}".encode())).decode()
    out = path.with_name(path.name + ".sig")
    write_atomic(out, json.dumps({"sha256": digest, "signature": signature}).encode() + b"\n",
                 0o644)
    return out


def signed_digest(signature_file: Path, trusted: Ed25519PublicKey) -> str:
    """The SHA-256 a .sig file vouches for, once its signature is the trusted key's; the
    file itself is then checked against it as it is read."""
    try:
        doc = json.loads(signature_file.read_bytes())
        digest = doc["sha256"]
        valid = isinstance(digest, str) and signed_by(trusted, doc["signature"],
                                                      f"{SIGNED}{digest}".encode())
    except OSError as exc:
        raise Refused(f"cannot read {signature_file}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise Refused(f"{signature_file} is not a signature by the trusted key: refused")
    return str(digest)


def signed_by(key: Ed25519PublicKey, signature: Any, message: bytes) -> bool:
    """Whether ``signature`` (base64, as a file or document holds it) is ``key``'s
    signature of ``message``."""
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


# --- enrolment and reports ---------------------------------------------------------------


def device_id(text: str) -> str:
    """A device as the site names it: an ``ed25519:`` key becomes its fingerprint, a MAC
    address is written with dashes, a fingerprint stays as it is."""
    text = text.strip()
    if text.startswith("ed25519:"):
        return fingerprint(text)  # base64 is case-sensitive: before lower()
    return text.lower().replace(":", "-")


def enroll(profiles: Path, device: str, group: str) -> str:
    """Put ``device`` in ``group`` (profiles/enrollment.toml); returns its id."""
    if not group.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{group!r} is not a group name (letters, digits, - and _)")
    path = profiles / "enrollment.toml"
    devices = _enrollment(path)
    ident = device_id(device)
    devices[ident] = group
    write_atomic(path, tomli_w.dumps({"devices": devices}).encode(), 0o644)
    return ident


REPORTS = "reports"


def signed_report(fields: Mapping[str, Any], key: Ed25519PrivateKey) -> bytes:
    """A device's status for the site (reports/ID.json), signed with its identity key, so
    an administrator can tell it from one another machine wrote."""
    body = {**fields, "key": public_text(key.public_key())}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return json.dumps({"report": body, "signature": base64.b64encode(
        key.sign(canonical)).decode()}, indent=1, sort_keys=True).encode() + b"\n"


def read_report(path: Path) -> tuple[dict[str, Any], str]:
    """A report and what is wrong with it ("" if nothing): the signature must be the
    key's it names, and the file must be named after that key."""
    try:
        doc = json.loads(path.read_bytes())
        body, signature = doc["report"], doc["signature"]
        key_text = body["key"]
        key = parse_public(key_text, str(path))
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        valid = signed_by(key, signature, canonical)
    except (OSError, ValueError, KeyError, TypeError, ConfigError):
        valid = False
    if not valid:
        return {}, "unreadable, or not signed by the key it names"
    if path.stem != fingerprint(key_text):
        return body, f"signed by {fingerprint(key_text)}, filed as {path.stem}"
    return body, ""
