"""Finding the provisioning site through DNS: an SRV record ``_spicebox._tcp.DOMAIN`` in one
of the box's search domains (DHCP's, in /etc/resolv.conf) names the host and port that
serve the site over HTTPS, at its root (RFC 2782).

The query and the reply are bytes in and records out (``query``, ``parse_srv``); only
``lookup`` does IO: one UDP question to each name server in turn.
"""

from __future__ import annotations

import logging
import secrets
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SERVICE = "_spicebox._tcp"
RESOLV_CONF = Path("/etc/resolv.conf")
TIMEOUT = 3.0
_SRV, _IN = 33, 1
_HEADER = struct.Struct(">HHHHHH")


@dataclass(frozen=True, order=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


def query(name: str, ident: int) -> bytes:
    """A recursive question for ``name``'s SRV records."""
    labels = b"".join(bytes([len(part)]) + part for part in
                      (label.encode("idna") for label in name.rstrip(".").split(".")))
    return _HEADER.pack(ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(
        ">HH", _SRV, _IN)


def parse_srv(reply: bytes, ident: int) -> list[Srv]:
    """The SRV records answering question ``ident``; ValueError for a malformed reply or
    one to another question, [] for a name without them."""
    try:
        got, flags, questions, answers, _, _ = _HEADER.unpack_from(reply)
        if got != ident or not flags & 0x8000:
            raise ValueError("not the answer to this question")
        if flags & 0x000F not in (0, 3):  # NOERROR, NXDOMAIN
            raise ValueError(f"the name server says error {flags & 0x000F}")
        offset = _HEADER.size
        for _ in range(questions):
            _, offset = _name(reply, offset)
            offset += 4
        records = []
        for _ in range(answers):
            _, offset = _name(reply, offset)
            kind, _, _, length = struct.unpack_from(">HHIH", reply, offset)
            offset += 10
            if kind == _SRV:
                priority, weight, port = struct.unpack_from(">HHH", reply, offset)
                target, _ = _name(reply, offset + 6)
                records.append(Srv(priority, weight, port, target))
            offset += length
            if offset > len(reply):
                raise ValueError("a record runs past the reply")
    except (struct.error, IndexError, UnicodeDecodeError):
        raise ValueError("the reply is cut short or malformed") from None
    return records


def _name(data: bytes, offset: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at ``offset``, and where the record goes on."""
    labels: list[str] = []
    end, jumps = None, 0
    while True:
        length = data[offset]
        if length & 0xC0 == 0xC0:
            jumps += 1
            if jumps > 16:
                raise ValueError("the reply's names point in a loop")
            end = offset + 2 if end is None else end
            offset = (length & 0x3F) << 8 | data[offset + 1]
            continue
        if length == 0:
            return ".".join(labels), offset + 1 if end is None else end
        labels.append(data[offset + 1:offset + 1 + length].decode("ascii"))
        offset += 1 + length


def resolv_conf(text: str) -> tuple[list[str], list[str]]:
    """Name servers and search domains, in order."""
    servers, domains = [], []
    for line in text.splitlines():
        words = line.split("#")[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(words[1])
        elif words and words[0] in ("search", "domain"):
            domains = words[1:]  # the last such line wins, as in the C library
    return servers, domains


def lookup(name: str, servers: list[str], port: int = 53) -> list[Srv]:
    for server in servers:
        ident = secrets.randbelow(1 << 16)
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.settimeout(TIMEOUT)
                sock.connect((server, port))
                sock.send(query(name, ident))
                return parse_srv(sock.recv(4096), ident)
        except (OSError, ValueError) as exc:
            log.info("DNS server %s cannot say where %s is: %s", server, name, exc)
    return []


def site_from_dns(resolv: Path = RESOLV_CONF, port: int = 53) -> str | None:
    """The site's https:// address from the first search domain with the SRV record."""
    try:
        servers, domains = resolv_conf(resolv.read_text())
    except OSError:
        return None
    for domain in domains:
        records = lookup(f"{SERVICE}.{domain}", servers, port)
        if records:
            # The lowest priority; among equals the heaviest (a fleet is spread by the
            # priority, not by chance: each box asks again every few minutes anyway).
            best = min(records, key=lambda r: (r.priority, -r.weight))
            return f"https://{best.target}:{best.port}"
    return None
