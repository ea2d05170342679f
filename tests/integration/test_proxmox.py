"""A Proxmox VE profile end to end: `spicebox run` logs in to the (stand-in) API, gets a
one-time SPICE ticket for the VM, and connects through the node's spiceproxy (an HTTP
CONNECT proxy routing a `pvespiceproxy:` ticket) with TLS to a real QEMU whose password
the ticket set."""

from __future__ import annotations

from pathlib import Path

from tests.rig.certs import make_x509_dir
from tests.rig.cli import assert_kiosk_shows_bios, spicebox
from tests.rig.proxmox import ProxmoxStub
from tests.rig.qemu import VGA_DEVICES, QemuServer


def test_a_proxmox_profile_connects_with_a_fresh_ticket(tmp_path: Path) -> None:
    x509, config_dir = tmp_path / "x509", tmp_path / "config"
    ca = make_x509_dir(x509).read_text()
    with QemuServer(VGA_DEVICES["std"], spice="password-secret=pw", tls_dir=x509,
                    extra_objects=["secret,id=pw,data=not-the-ticket"]) as qemu:
        assert qemu.qmp is not None and qemu.tls_port is not None
        qmp = qemu.qmp

        def set_password(password: str) -> None:
            qmp.execute("set_password", protocol="spice", password=password)
        with ProxmoxStub(x509, set_password, qemu.tls_port) as pve:
            for key, value in (("proxmox-url", pve.url), ("proxmox-user", "alice"),
                               ("proxmox-realm", "pve"), ("proxmox-password", "alice-pw"),
                               ("proxmox-vmid", "100"), ("ca", ca)):
                done = spicebox("config", "set", f"profiles.desk.{key}", value,
                                "--config-dir", str(config_dir))
                assert done.returncode == 0, done.stderr
            assert spicebox("config", "set", "default-profile", "desk", "--config-dir",
                            str(config_dir)).returncode == 0
            done = assert_kiosk_shows_bios(config_dir, tmp_path / "shot.png",
                                           qemu.screendump)
            assert pve.calls[:3] == ["POST /api2/json/access/ticket",
                                     "GET /api2/json/cluster/resources",
                                     "POST /api2/json/nodes/pve1/qemu/100/spiceproxy"]
            # Every channel went through the spiceproxy, named by the ticket's route.
            assert len(pve.tunnels) >= 2
            assert all(t.startswith("pvespiceproxy:") and ":100:pve1:" in t
                       for t in pve.tunnels)
            # The one-time ticket was used, never kept.
            stored = "".join(p.read_text() for p in config_dir.glob("*.toml"))
            assert pve.tickets and pve.tickets[-1] not in stored
            assert pve.tickets[-1] not in done.stderr
