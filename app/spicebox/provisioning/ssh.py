"""SSH for administrators, off unless provisioned: the OpenSSH public keys the signed site
gives this box (``system.ssh-keys``) may log in as root, by key only; with none, sshd is
stopped and disabled (as the image ships it).

Root's (spicebox-ssh.service), like firmware (:mod:`.firmware`): it reads the site itself
with a key root trusts, never the configuration the agent (the kiosk's user) stored, so a
kiosk that was broken into cannot let itself in; and it keeps the site version it applied,
so an older signed index (keys since taken away) is refused.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..config.settings import System, fields_of, parse_value
from ..config.store import write_atomic
from .agent import box_configuration, read_signed_site, read_state
from .site import Refused

log = logging.getLogger(__name__)

# sshd reads it (firmware/rootfs/etc/ssh/sshd_config.d/spicebox.conf): under /etc, which
# lives on the data partition, as root's home on the read-only root does not.
KEYS = Path("/etc/ssh/authorized_keys/root")
STATE = Path("/var/lib/spicebox-ssh/state.json")
SERVICE = "ssh.service"
Systemctl = Callable[..., None]


def keys_from_site(server: str, trust: str, ids: list[str], state_file: Path = STATE,
                   ca_file: str | None = None) -> tuple[str, ...]:
    """The keys the site's signed configuration gives the box with ``ids``."""
    site = read_signed_site(server, trust, ca_file)
    index = site.index
    state = read_state(state_file)
    applied = state.get("version", 0)
    if isinstance(applied, int) and index.version < applied:
        raise Refused(f"the site's version {index.version} is older than the {applied} "
                      f"applied: refused (a rollback), SSH left as it is")
    _, config = box_configuration(index, ids, site.base, site.context)
    keys: tuple[str, ...] = parse_value(fields_of(System)["ssh-keys"],
                                        config.get("system", {}).get("ssh-keys", []),
                                        "system.ssh-keys")
    write_atomic(state_file, json.dumps({**state, "version": index.version}).encode(), 0o644)
    return keys


def apply(keys: tuple[str, ...], keys_file: Path = KEYS,
          systemctl: Systemctl | None = None) -> str:
    """SSH on for ``keys`` (sshd reads the file at each login: no restart), or off."""
    run = systemctl or _systemctl
    if keys:
        write_atomic(keys_file, ("\n".join(keys) + "\n").encode(), 0o600)
        run("enable", "--now", SERVICE)
        return f"SSH is on: {len(keys)} key{'s' if len(keys) > 1 else ''} may log in as root"
    keys_file.unlink(missing_ok=True)
    run("disable", "--now", SERVICE)
    return "SSH is off: the site gives this box no key"


def _systemctl(*args: str) -> None:
    done = subprocess.run(["systemctl", "--quiet", *args], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        log.warning("systemctl %s: %s", " ".join(args), done.stderr.strip())
