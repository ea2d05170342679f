"""The device's side of provisioning: fetch the site's signed index, check it against the
trusted key and the version last applied, fetch this device's documents, and apply them
as one. Anything refused changes nothing and says why in one line.

The trusted key is the one given (baked into the image, or from ``--trust``), else the
one first trusted; what was applied (version, key) is kept next to the configuration.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..config.store import ConfigStore, write_atomic
from ..config.target import ConfigError
from .site import (
    INDEX,
    MAX_DOCUMENT,
    MAX_INDEX,
    SIGNATURE,
    Refused,
    configuration,
    document,
    fingerprint,
    parse_public,
    verify_index,
)

log = logging.getLogger(__name__)

TIMEOUT = 20.0


@dataclass(frozen=True)
class Applied:
    version: int
    documents: list[str]
    changed: bool  # whether the configuration is not what it was


def state_path(store: ConfigStore) -> Path:
    return store.paths.provisioned.with_name("provisioning.json")


def device_ids(identity_key: str | None) -> list[str]:
    """How the site may name this box: its identity key's fingerprint, then the MAC
    address of each network interface it has."""
    ids = [fingerprint(identity_key)] if identity_key else []
    for address in sorted(Path("/sys/class/net").glob("*/address")):
        mac = address.read_text().strip().lower()
        if mac and mac != "00:00:00:00:00:00":
            ids.append(mac.replace(":", "-"))
    return ids


def provision_once(store: ConfigStore, server: str, trust: str | None,
                   ids: list[str], ca_file: str | None = None) -> Applied:
    state_file = state_path(store)
    state = _read_state(state_file)
    remembered = state.get("trusted")
    trusted_text = trust or (remembered if isinstance(remembered, str) else None)
    if not trusted_text:
        raise ConfigError("no provisioning key is trusted yet: give --trust FILE (the "
                          "administrators' signing.pub)")
    trusted = parse_public(trusted_text, "the trusted key")
    if not server.startswith(("https://", "http://")):
        raise ConfigError(f"{server} is not an http(s):// address")
    base = server.rstrip("/") + "/"
    context = ssl.create_default_context(cafile=ca_file)
    body = _fetch(base + INDEX, context, MAX_INDEX)
    index = verify_index(body, _fetch(base + SIGNATURE, context, 4096), trusted)
    version = state.get("version", 0)
    applied = version if isinstance(version, int) else 0
    if index.version < applied:
        raise Refused(f"the site's version {index.version} is older than the {applied} "
                      f"applied: refused (a rollback), nothing changed")
    names = index.wanted(ids)
    docs = [document(index, name, _fetch(base + index.documents[name]["path"], context,
                                         MAX_DOCUMENT)) for name in names]
    new = configuration(docs)
    before = store.paths.provisioned.read_bytes() if store.paths.provisioned.is_file() \
        else None
    store.apply_provisioned(new, f"{server} version {index.version}")
    changed = before != store.paths.provisioned.read_bytes()
    write_atomic(state_file, json.dumps({"version": index.version, "trusted": trusted_text,
                                         "server": server, "documents": names}).encode(),
                 0o644)
    return Applied(index.version, names, changed)


def _read_state(path: Path) -> dict[str, object]:
    try:
        state = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}): remove it to trust a key "
                          f"afresh") from None
    return state if isinstance(state, dict) else {}


def _fetch(url: str, context: ssl.SSLContext, limit: int) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT,
                                    context=context) as reply:
            data: bytes = reply.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise ConfigError(f"{url}: the server says {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(f"cannot fetch {url}: {reason}") from None
    if len(data) > limit:
        raise Refused(f"{url} is larger than any provisioning document is: refused")
    return data
