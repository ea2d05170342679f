"""The setup UI and the kiosk around it, end to end: `spicebox run` opening setup when
nothing is configured and a reconnect screen when the server is away, and trust on first
use pinning a real QEMU's TLS certificate that the kiosk then connects with."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import numpy as np

from spicebox.codecs.pixels import to_rgb
from spicebox.ui.pages.home import HomePage
from spicebox.ui.pages.profiles import ProfilePage, TrustPage
from spicebox.ui.pages.reconnect import ReconnectPage
from tests.rig.certs import make_x509_dir
from tests.rig.cli import assert_kiosk_shows_bios, spicebox
from tests.rig.client import load_png
from tests.rig.qemu import VGA_DEVICES, QemuServer, free_port
from tests.rig.ui import UiDriver, field

STD = VGA_DEVICES["std"]
PASSWORD = "tofu-ticket"


def test_run_without_a_profile_opens_setup(tmp_path: Path) -> None:
    config_dir, png = tmp_path / "config", tmp_path / "setup.png"
    done = spicebox("run", "--config-dir", str(config_dir), "--backend", "headless",
                    "--resolution", "800x480", "--screenshot", str(png),
                    "--screenshot-after", "0.5", "--exit-after", "1.5")
    assert done.returncode == 0, done.stderr
    # Exactly the kiosk's home page, as the UI draws it in this process.
    ui = UiDriver(config_dir, (800, 480), kiosk=True)
    ui.open(HomePage(ui.app))
    assert np.array_equal(load_png(png), to_rgb(ui.render()))


def test_run_shows_why_it_is_not_connected_and_keeps_trying(tmp_path: Path) -> None:
    config_dir, png = tmp_path / "config", tmp_path / "reconnect.png"
    port = free_port()  # nothing listens there
    for key, value in (("profiles.lab.host", "127.0.0.1"), ("profiles.lab.port", str(port)),
                       ("default-profile", "lab")):
        assert spicebox("config", "set", key, value, "--config-dir",
                        str(config_dir)).returncode == 0
    done = spicebox("run", "--config-dir", str(config_dir), "--backend", "headless",
                    "--resolution", "800x480", "--screenshot", str(png),
                    "--screenshot-after", "0.2", "--exit-after", "2.5")
    assert done.returncode == 0, done.stderr
    assert "trying again in 1 s" in done.stderr and "trying again in 2 s" in done.stderr
    # The screen says why: the same page the UI draws for that error (the countdown
    # line aside, which depends on when the screenshot was taken).
    error = next(line for line in done.stderr.splitlines() if "trying again" in line)
    problem = error.removeprefix("spicebox: error: ").split("; trying again")[0]
    ui = UiDriver(config_dir, (800, 480), kiosk=True)
    ui.open(ReconnectPage(ui.app, f"127.0.0.1:{port}", problem, 1.0))
    expected, shown = to_rgb(ui.render()), load_png(png)
    countdown = ui.app._layout().rows[2][1]
    for image in (expected, shown):
        image[countdown.top:countdown.bottom] = 0
    assert np.array_equal(shown, expected)


def test_trust_on_first_use_pins_the_servers_certificate(tmp_path: Path) -> None:
    x509, config_dir = tmp_path / "x509", tmp_path / "config"
    make_x509_dir(x509)
    server_der = ssl.PEM_cert_to_DER_cert((x509 / "server-cert.pem").read_text())
    with QemuServer(STD, spice="password-secret=pw", tls_dir=x509,
                    extra_objects=[f"secret,id=pw,data={PASSWORD}"]) as qemu:
        assert qemu.tls_port is not None
        ui = UiDriver(config_dir)
        ui.open(ProfilePage(ui.app, None))
        # An address, not the certificate's name: the pinned certificate identifies it.
        for label, text in (("Name", "vm"), ("Server", "127.0.0.1"),
                            ("TLS port", str(qemu.tls_port)), ("Password", PASSWORD)):
            field(ui.page, label).text = text
        ui.tap("Save")
        # Trusting the system's CAs only, the kiosk cannot verify this server.
        refused = spicebox("connect", "vm", "--config-dir", str(config_dir), "--backend",
                           "headless", "--exit-after", "3")
        assert refused.returncode == 5, refused.stderr
        assert "is not trusted" in refused.stderr

        ui.open(ProfilePage(ui.app, "vm"))
        ui.tap("Trust the server's certificate…")
        ui.settle()  # the TLS handshake with QEMU
        page = ui.page
        assert isinstance(page, TrustPage), ui.page.status
        fingerprint = hashlib.sha256(server_der).hexdigest().upper()
        assert page.certificate.fingerprint.replace(":", "") == fingerprint
        assert any(fingerprint[:8] in t.replace(":", "") for t in ui.texts())  # shown
        ui.tap("Trust")
        ui.tap("Save")
        assert ui.page.status == "Saved profile vm"
        # The pin alone identifies the server: no CA, subject or name (an address) needed.
        saved = ui.store.load().profile("vm")
        assert saved.fingerprint == page.certificate.fingerprint
        assert (saved.ca, saved.host_subject) == (None, None)

        assert_kiosk_shows_bios(config_dir, tmp_path / "shot.png", qemu.screendump)
