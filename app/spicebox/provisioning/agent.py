"""The device's side of provisioning: fetch the site's signed index, check it against the
trusted key and the version last applied, fetch this device's documents, and apply them
as one. Anything refused changes nothing and says why in one line.

The trusted key is the one given (baked into the image, or from ``--trust``), else the
one first trusted; what was applied (version, key) is kept next to the configuration.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .. import __version__
from ..config.store import ConfigStore, write_atomic
from ..config.target import ConfigError
from ..identity import public_text
from ..net.interfaces import interfaces
from ..system import services
from ..system.bus import ServiceError, on_system_bus
from ..system.network import NetworkManager
from .fetch import TIMEOUT, fetch, fetched
from .site import (
    INDEX,
    MAX_DOCUMENT,
    MAX_INDEX,
    REPORTS,
    SIGNATURE,
    Index,
    Refused,
    configuration,
    document,
    fingerprint,
    parse_public,
    signed_report,
    verify_index,
)

log = logging.getLogger(__name__)

CMDLINE = Path("/proc/cmdline")
# The image's own trust, for boxes that must never trust a key on first use.
BAKED_KEY = Path("/etc/spicebox/provisioning.pub")


@dataclass(frozen=True)
class Applied:
    version: int
    documents: list[str]  # empty when the site had not changed since the last fetch
    changed: bool  # whether the configuration is not what it was


def discover(setting: str | None, cmdline: str | None = None,
             finders: Sequence[Callable[[], str | None]] = ()) -> tuple[str | None, str | None]:
    """Where provisioning comes from, and the key to trust, when the command line does not
    say: ``spicebox.provision=URL`` and ``spicebox.provision-key=ed25519:...`` on the
    kernel's command line (kept across updates), else the first of ``finders`` that
    finds it (the network's: dhcp.site_from_dhcp, then dns.site_from_dns), else the
    server set in setup (system.provisioning-url); the key, if not on the command line,
    baked into the image, if it is."""
    if cmdline is None:
        try:
            cmdline = CMDLINE.read_text()
        except OSError:
            cmdline = ""
    words = dict(w.split("=", 1) for w in cmdline.split() if "=" in w)
    server = words.get("spicebox.provision") or next(
        (found for find in finders if (found := find())), None) or setting
    key = words.get("spicebox.provision-key")
    if key is None and BAKED_KEY.is_file():
        key = BAKED_KEY.read_text().strip()
    return server, key


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
    state = read_state(state_file)
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
    version = state.get("version", 0)
    applied = version if isinstance(version, int) else 0
    tag = state.get("etag") if state.get("server") == server else None
    answer = fetch(base + INDEX, context, MAX_INDEX, tag if isinstance(tag, str) else None)
    if answer is None:  # 304: the index is the one applied
        return Applied(applied, [], False)
    body, etag = answer
    index = verify_index(body, fetched(base + SIGNATURE, context, 4096), trusted)
    if index.version < applied:
        raise Refused(f"the site's version {index.version} is older than the {applied} "
                      f"applied: refused (a rollback), nothing changed")
    names, new = box_configuration(index, ids, base, context)
    before = store.paths.provisioned.read_bytes() if store.paths.provisioned.is_file() \
        else None
    store.apply_provisioned(new, f"{server} version {index.version}")
    changed = before != store.paths.provisioned.read_bytes()
    write_atomic(state_file, json.dumps({"version": index.version, "trusted": trusted_text,
                                         "server": server, "documents": names,
                                         "etag": etag}).encode(), 0o644)
    return Applied(index.version, names, changed)


@dataclass(frozen=True)
class SignedSite:
    """A site's index as root's services (firmware, SSH) read it: checked against the key
    root trusts, fetched afresh (no ETag, none of the agent's state)."""
    index: Index
    base: str  # the site's address, ending in /
    context: ssl.SSLContext


def read_signed_site(server: str, trust: str, ca_file: str | None = None) -> SignedSite:
    trusted = parse_public(trust, "the trusted key")
    context = ssl.create_default_context(cafile=ca_file)
    base = server.rstrip("/") + "/"
    index = verify_index(fetched(base + INDEX, context, MAX_INDEX),
                         fetched(base + SIGNATURE, context, 4096), trusted)
    return SignedSite(index, base, context)


def box_configuration(index: Index, ids: list[str], base: str,
                      context: ssl.SSLContext) -> tuple[list[str], dict[str, Any]]:
    """The documents the signed index names for the box with ``ids``: their names, and
    their settings fetched, checked against the index and merged."""
    names = index.wanted(ids)
    docs = [document(index, name, fetched(base + index.documents[name]["path"], context,
                                           MAX_DOCUMENT)) for name in names]
    return names, configuration(docs)


def apply_system(store: ConfigStore) -> None:
    """What of the configuration lives outside it, in the system's own services: the
    time zone (timedated) and a Wi-Fi network (NetworkManager). A failure is logged; the
    configuration stays applied."""
    config = store.load()
    zone, wifi = config.system.time_zone, config.network
    try:
        if zone is not None and asyncio.run(on_system_bus(
                lambda bus: services.set_timezone(bus, zone))):
            log.info("time zone set to %s", zone)
    except ServiceError as exc:
        log.warning("the time zone stays as it is: %s", exc)
    try:
        if wifi.wifi_ssid is not None:
            asyncio.run(on_system_bus(lambda bus: NetworkManager(bus).keep_wifi(
                str(wifi.wifi_ssid), wifi.wifi_password)))
            log.info("Wi-Fi network %r kept: NetworkManager joins it when in range",
                     wifi.wifi_ssid)
    except ServiceError as exc:
        log.warning("the Wi-Fi network is not kept: %s", exc)


def report(server: str, fields: dict[str, object], key: Ed25519PrivateKey,
           ca_file: str | None = None) -> bool:
    """PUT this box's status to the site's reports/ (a WebDAV location, say); False when
    the site does not take reports (it answers 403, 404, 405 or 501)."""
    url = f"{server.rstrip('/')}/{REPORTS}/{fingerprint(public_text(key.public_key()))}.json"
    request = urllib.request.Request(url, data=signed_report(fields, key), method="PUT",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT,
                                    context=ssl.create_default_context(cafile=ca_file)):
            return True
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404, 405, 501):
            return False
        raise ConfigError(f"{url}: the server says {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError(f"cannot report to {url}: {getattr(exc, 'reason', exc)}") from None


def status(applied: int, error: str) -> dict[str, object]:
    """What a box reports: its provisioned version, addresses, uptime and last error."""
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        uptime = 0.0
    return {"version": applied, "firmware": __version__, "uptime": int(uptime),
            "addresses": [a for nic in interfaces() for a in nic.addresses],
            "error": error, "time": int(time.time())}


def read_state(path: Path) -> dict[str, object]:
    try:
        state = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}): remove it to trust a key "
                          f"afresh") from None
    return state if isinstance(state, dict) else {}
