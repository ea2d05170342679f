"""Firmware through provisioning: the site's signed index names an update bundle for each
channel and board, and a box on that channel installs a newer one into its other slot.

This runs as root (spicebox-firmware.service), apart from the agent (the kiosk's user),
and trusts only keys root holds: the one on the kernel's command line or baked into the
image, else the first key the agent trusted, which root then keeps in a file of its own
(trust on first use, like the agent's, but out of the kiosk user's reach).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..config.store import ConfigStore, write_atomic
from ..system.update import Device, Installed, install
from .agent import read_signed_site, read_state
from .fetch import opened

STATE = Path("/var/lib/spicebox-firmware/state.json")


@dataclass(frozen=True)
class Outcome:
    said: str
    installed: Installed | None = None


def trusted_key(given: str | None, state_file: Path, agent_state: Path) -> str | None:
    """The key to check the site with: ``given`` (command line, kernel or image), else
    the one root kept, else the agent's, which root keeps from now on."""
    if given:
        return given
    kept = read_state(state_file).get("trusted")
    if isinstance(kept, str):
        return kept
    agents = read_state(agent_state).get("trusted")
    if not isinstance(agents, str):
        return None
    write_atomic(state_file, json.dumps({**read_state(state_file), "trusted": agents}).encode(),
                 0o644)
    return agents


def update_from_site(store: ConfigStore, device: Device, server: str, trust: str,
                     state_file: Path = STATE, ca_file: str | None = None) -> Outcome:
    """Install the channel's firmware if it is newer than the running one and has not
    been installed before (a box that came back from it does not loop)."""
    site = read_signed_site(server, trust, ca_file)
    index = site.index
    channel = store.load().system.update_channel
    release = device.running_release()
    board, running = release.get("board"), release.get("version", "?")
    bundle = index.firmware.get(channel, {}).get(str(board))
    if bundle is None:
        return Outcome(f"the site has no firmware for {board} on channel {channel!r}")
    if bundle.build <= release.get("build", 0):
        return Outcome(f"firmware {running} is the newest on channel {channel!r}")
    state = read_state(state_file)
    if state.get("installed") == bundle.build:
        return Outcome(f"firmware {bundle.version} was installed before: it starts at the "
                       f"next boot, or this box came back from it to {running}; not again "
                       f"until the site names another")
    with opened(site.base + bundle.path, site.context) as reply:
        installed = install(reply, device, sha256=bundle.sha256)
    write_atomic(state_file, json.dumps({**state, "installed": bundle.build}).encode(),
                 0o644)
    return Outcome(f"firmware {installed.version} from channel {channel!r} is in slot "
                   f"{installed.slot.upper()}", installed)

