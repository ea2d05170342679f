from __future__ import annotations

from pathlib import Path

import pytest

from spicebox.config.target import ConfigError, Target, load_vv, parse_target, parse_uri


@pytest.mark.parametrize(("uri", "expect"), [
    ("spice://host:5900", Target("host", 5900)),
    ("spice://host:5900?tls-port=5901", Target("host", 5900, 5901)),
    ("spice://host?tls-port=5901&password=pw", Target("host", None, 5901, "pw")),
    ("spice+tls://host:5901", Target("host", None, 5901)),
    ("spice://[::1]:5900", Target("::1", 5900)),
])
def test_uris(uri: str, expect: Target) -> None:
    assert parse_uri(uri) == expect


@pytest.mark.parametrize(("uri", "message"), [
    ("spice://host", "no port"),
    ("spice://:5900", "no host"),
    ("spice://host:99999", "URI"),
    ("spice://host:1?tls-port=x", "not a number"),
    ("spice://host:1?colour=blue", "unknown parameters"),
])
def test_bad_uris(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_uri(uri)


VV = """[virt-viewer]
type=spice
host=10.0.0.5
port=-1
tls-port=61000
password=tick
ca=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n
host-subject=OU=PVE,O=Proxmox,CN=pve
title=VM 100
delete-this-file=1
"""


def test_vv_file(tmp_path: Path) -> None:
    path = tmp_path / "c.vv"
    path.write_text(VV.replace("port=-1\n", ""))
    target = load_vv(path)
    assert (target.host, target.port, target.tls_port) == ("10.0.0.5", None, 61000)
    assert target.password == "tick" and target.title == "VM 100"
    assert target.ca_pem == "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert target.host_subject == "OU=PVE,O=Proxmox,CN=pve"
    assert target.delete_file == path and target.uses_tls


@pytest.mark.parametrize(("text", "message"), [
    ("not an ini file", "not a valid .vv"),
    ("[other]\nhost=x\n", "no \\[virt-viewer\\]"),
    ("[virt-viewer]\ntype=vnc\nhost=x\nport=1\n", "only spice"),
    ("[virt-viewer]\nport=1\n", "no host"),
    ("[virt-viewer]\nhost=x\n", "neither port"),
    ("[virt-viewer]\nhost=x\nport=-1\n", "outside"),
])
def test_broken_vv_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.vv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_vv(path)


def test_neither_uri_nor_file() -> None:
    with pytest.raises(ConfigError, match="neither"):
        parse_target("vnc://host")
    with pytest.raises(ConfigError, match="cannot read"):
        parse_target("/nonexistent/x.vv")
