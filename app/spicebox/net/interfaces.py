"""This machine's network interfaces and addresses, for diagnostics (read from the kernel:
NetworkManager may not be there)."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

_SIOCGIFADDR = 0x8915
_SYS_NET = Path("/sys/class/net")
_IF_INET6 = Path("/proc/net/if_inet6")


@dataclass(frozen=True)
class Interface:
    name: str
    state: str  # the kernel's operstate: up, down, unknown, ...
    addresses: tuple[str, ...]


def interfaces() -> list[Interface]:
    """Every interface but loopback, with its IPv4 address and global IPv6 ones."""
    v6: dict[str, list[str]] = {}
    try:
        for line in _IF_INET6.read_text().splitlines():
            raw, _, _, scope, _, name = line.split()
            if scope == "00":  # global scope only: link-local ones say little
                v6.setdefault(name, []).append(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    except OSError:
        pass
    found = []
    for _, name in socket.if_nameindex():
        if name == "lo":
            continue
        try:
            state = (_SYS_NET / name / "operstate").read_text().strip()
        except OSError:
            state = "unknown"
        v4 = _ipv4(name)
        found.append(Interface(name, state, tuple(([v4] if v4 else []) + v6.get(name, []))))
    return found


def _ipv4(name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            reply = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR,
                                struct.pack("256s", name.encode()[:15]))
        except OSError:  # no IPv4 address
            return None
    return socket.inet_ntoa(reply[20:24])
