"""HTTP CONNECT proxies (RFC 9110 section 9.3.6), as Proxmox VE's spiceproxy and corporate
proxies use them: one tunnel per SPICE channel, TLS (if any) inside it.

The request and the reply check are sans-IO; ``transport.open_stream`` does the IO.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..config.target import ConfigError


class ProxyRefused(Exception):
    """The proxy answered, but would not open the tunnel."""


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    credentials: str | None = None  # "user:password", for Basic authentication

    @classmethod
    def parse(cls, url: str) -> Proxy:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "http" or not parts.hostname or port is None:
            # Without its credentials: errors are logged and shown on screen.
            shown = url.rsplit("@", 1)[-1]
            raise ConfigError(f"proxy {shown!r} is not of the form http://HOST:PORT")
        credentials = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        return cls(parts.hostname, port, credentials)

    def __str__(self) -> str:
        return f"proxy {self.host}:{self.port}"

    def request(self, host: str, port: int) -> bytes:
        authority = f"[{host}]:{port}" if _is_ipv6(host) else f"{host}:{port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if self.credentials is not None:
            token = base64.b64encode(self.credentials.encode()).decode()
            lines.append(f"Proxy-Authorization: Basic {token}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _is_ipv6(host: str) -> bool:
    # Not "holds a colon": Proxmox's tunnel targets ("pvespiceproxy:TICKET:VMID:NODE::SIG")
    # hold colons too, and go to its spiceproxy as they are.
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def check_reply(head: bytes) -> None:
    """Raises ProxyRefused unless the reply head (up to its blank line) opens the tunnel."""
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ProxyRefused(f"answered {status_line[:60]!r}: is it an HTTP proxy?")
    if not code.startswith("2"):
        hint = {"407": ": it wants credentials, as http://USER:PASSWORD@HOST:PORT",
                "403": ": it does not allow this server or port"}.get(code, "")
        raise ProxyRefused(f"refused the tunnel: {code} {reason.strip()}{hint}")
