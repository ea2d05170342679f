"""Finding the provisioning site through DHCP: the network's DHCP server hands out the
site's address in option 224 (site-specific, RFC 3942), which NetworkManager keeps with
the connection and shows on D-Bus."""

from __future__ import annotations

import asyncio
import logging
import re

from ..system.bus import ServiceError, on_system_bus
from ..system.network import NetworkManager

log = logging.getLogger(__name__)

OPTION = 224


def site_in(options: list[dict[str, str]]) -> str | None:
    """The site's address from the first connection whose lease carries the option.
    NetworkManager shows an option it has no name for as its bytes in hex
    ("68:74:74:70:73:..."), or as text."""
    for lease in options:
        value = lease.get(f"private_{OPTION}", "").strip()
        if re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*", value):
            value = bytes.fromhex(value.replace(":", "")).decode(errors="replace")
        value = value.strip("\0 ")
        if value.startswith(("https://", "http://")):
            return value
        if value:
            log.info("DHCP option %d is not an http(s):// address: %r", OPTION, value)
    return None


def site_from_dhcp() -> str | None:
    """What the leases NetworkManager holds say (None if it cannot be asked)."""
    try:
        return site_in(asyncio.run(on_system_bus(
            lambda bus: NetworkManager(bus).dhcp_options())))
    except ServiceError as exc:
        log.info("DHCP leases cannot be read: %s", exc)
        return None
