"""Connection profiles as an administrator uses them: a .vv file imported with `spicebox
config import`, then `spicebox run` (the kiosk) connecting to it, through a real HTTP
CONNECT proxy with TLS inside the tunnel, and waiting for a server that is not up yet."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.rig.certs import SERVER_SUBJECT, make_x509_dir
from tests.rig.cli import assert_kiosk_shows_bios, kiosk_args, spicebox
from tests.rig.client import assert_png_shows_bios
from tests.rig.proxy import tinyproxy, tinyproxy_available
from tests.rig.qemu import VGA_DEVICES, QemuServer

STD = VGA_DEVICES["std"]
PASSWORD = "kiosk-ticket"


@pytest.mark.skipif(not tinyproxy_available(), reason="tinyproxy is installed by make setup")
def test_imported_vv_file_connects_through_its_proxy_with_tls(tmp_path: Path) -> None:
    x509 = tmp_path / "x509"
    ca = make_x509_dir(x509).read_text().replace("\n", "\\n")
    config_dir, png = tmp_path / "config", tmp_path / "shot.png"
    with QemuServer(STD, spice="password-secret=pw", tls_dir=x509,
                    extra_objects=[f"secret,id=pw,data={PASSWORD}"]) as qemu:
        assert qemu.tls_port is not None
        with tinyproxy([qemu.tls_port]) as proxy:
            # As Proxmox VE writes them: TLS only, a host-subject, the CA on one line.
            vv = tmp_path / "pve-spice.vv"
            vv.write_text(
                f"[virt-viewer]\ntls-port={qemu.tls_port}\ndelete-this-file=1\n"
                f"proxy={proxy.url}\ntype=spice\ntitle=VM 100 - desk\n"
                f"host-subject={SERVER_SUBJECT}\npassword={PASSWORD}\nhost=localhost\n"
                f"release-cursor=Ctrl+Alt+R\nca={ca}\n")
            imported = spicebox("config", "import", str(vv), "--config-dir", str(config_dir))
            assert imported.returncode == 0, imported.stderr
            assert "as profile 'VM-100-desk'" in imported.stderr
            assert not vv.exists()  # it asked to be deleted: it held a password
            shown = spicebox("config", "get", "--config-dir", str(config_dir))
            assert PASSWORD not in shown.stdout and "VM-100-desk" in shown.stdout

            assert_kiosk_shows_bios(config_dir, png, qemu.screendump)
            # Every channel went through the proxy, TLS inside the tunnel.
            tunnels = proxy.tunnels()
            assert len(tunnels) >= 2 and set(tunnels) == {"localhost"}, tunnels


def test_run_waits_for_the_server_and_then_connects(tmp_path: Path) -> None:
    config_dir, png = tmp_path / "config", tmp_path / "shot.png"
    qemu = QemuServer(STD)  # its port is chosen now; it starts later
    for key, value in (("profiles.lab.host", "127.0.0.1"),
                       ("profiles.lab.port", str(qemu.port)), ("default-profile", "lab")):
        assert spicebox("config", "set", key, value, "--config-dir",
                        str(config_dir)).returncode == 0
    kiosk = subprocess.Popen([sys.executable, "-m", "spicebox", *kiosk_args(config_dir, png)],
                             stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)  # a few refused attempts
        assert kiosk.poll() is None, "run gave up instead of retrying"
        with qemu:
            _, stderr = kiosk.communicate(timeout=120)
            dump = qemu.screendump()
    finally:
        kiosk.kill()
    assert kiosk.returncode == 0, stderr
    assert "trying again in 1 s" in stderr and "trying again in 2 s" in stderr
    assert_png_shows_bios(png, dump)
