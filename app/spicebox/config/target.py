"""Where to connect: parsed from a spice:// URI or a virt-viewer ``.vv`` file."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class ConfigError(Exception):
    """Bad user input: the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int | None = None
    tls_port: int | None = None
    password: str | None = None
    ca_pem: str | None = None
    host_subject: str | None = None
    proxy: str | None = None  # an HTTP CONNECT proxy, http://HOST:PORT
    fingerprint: str | None = None  # the server certificate trusted on first use
    title: str | None = None
    delete_file: Path | None = None  # a .vv that asked to be deleted once read
    # A .vv file's auto-redirect filter (usb-filter; "-1,-1,-1,-1,0" for
    # enable-usb-autoshare=0), which then overrides the box's for that session.
    usb_auto_filter: str | None = None

    @property
    def uses_tls(self) -> bool:
        # Prefer the secure port whenever the server offers one.
        return self.tls_port is not None

    def describe(self) -> str:
        if self.uses_tls:
            return f"{self.host}:{self.tls_port} (TLS)"
        return f"{self.host}:{self.port}"


def parse_target(text: str) -> Target:
    if text.startswith(("spice://", "spice+tls://")):
        return parse_uri(text)
    path = Path(text)
    if path.suffix == ".vv" or path.exists():
        return load_vv(path)
    raise ConfigError(f"{text!r} is neither a spice:// or spice+tls:// URI nor a .vv file")


def _port(value: str, what: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"{what} {value!r} is not a number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{what} {port} is outside 1-65535")
    return port


def parse_uri(uri: str) -> Target:
    parts = urlsplit(uri)
    try:
        host, port_text = parts.hostname, parts.port
    except ValueError as exc:
        raise ConfigError(f"bad URI {uri!r}: {exc}") from None
    if not host:
        raise ConfigError(f"URI {uri!r} names no host: use spice://HOST:PORT")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"port", "tls-port", "password"}
    if unknown:
        raise ConfigError(f"URI {uri!r} has unknown parameters: {', '.join(sorted(unknown))}")
    port = port_text if port_text is not None else (
        _port(query["port"], "port") if "port" in query else None)
    tls_port = _port(query["tls-port"], "tls-port") if "tls-port" in query else None
    if parts.scheme == "spice+tls":
        tls_port, port = port, None
    if port is None and tls_port is None:
        raise ConfigError(f"URI {uri!r} names no port: use spice://HOST:PORT "
                          f"or spice+tls://HOST:PORT")
    return Target(host=host, port=port, tls_port=tls_port, password=query.get("password"))


def load_vv(path: Path) -> Target:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"{path} is not a valid .vv file: {first_line}") from None
    if not parser.has_section("virt-viewer"):
        raise ConfigError(f"{path} has no [virt-viewer] section: is it a .vv file?")
    vv = parser["virt-viewer"]
    return viewer_target(dict(vv), str(path),
                         path if vv.getboolean("delete-this-file", fallback=False) else None)


def viewer_target(fields: Mapping[str, object], source: str,
                  delete_file: Path | None = None) -> Target:
    """A connection described by virt-viewer's keys: a .vv file's lines, or the JSON object
    Proxmox VE's spiceproxy call returns (the same keys, with numbers as numbers)."""
    vv = {key: str(value) for key, value in fields.items() if value is not None}
    kind = vv.get("type", "spice")
    if kind != "spice":
        raise ConfigError(f"{source} describes a {kind!r} connection; only spice is supported")
    host = vv.get("host")
    if not host:
        raise ConfigError(f"{source} has no host= line")
    port = _port(vv["port"], f"{source}: port") if vv.get("port") else None
    tls_port = _port(vv["tls-port"], f"{source}: tls-port") if vv.get("tls-port") else None
    if port is None and tls_port is None:
        raise ConfigError(f"{source} has neither port= nor tls-port=")
    ca = vv.get("ca")
    usb_filter = vv.get("usb-filter") or None
    if vv.get("enable-usb-autoshare", "1").strip() == "0":
        usb_filter = "-1,-1,-1,-1,0"
    return Target(
        host=host, port=port, tls_port=tls_port, password=vv.get("password"),
        # .vv files carry the PEM on one line with literal \n escapes.
        ca_pem=ca.replace("\\n", "\n") if ca else None,
        host_subject=vv.get("host-subject") or None, proxy=vv.get("proxy") or None,
        title=vv.get("title"), delete_file=delete_file, usb_auto_filter=usb_filter)
