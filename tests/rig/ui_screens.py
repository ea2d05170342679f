"""Screenshots of every setup page, for the README's user guide and for review:
``python -m tests.rig.ui_screens DIR [WIDTHxHEIGHT]``. The pages show a sample
configuration made in a temporary directory; nothing connects anywhere."""

from __future__ import annotations

import ssl
import sys
import tempfile
from pathlib import Path

from spicebox.config.proxmox import Vm
from spicebox.display.screenshot import save_png
from spicebox.net.tls import ServerCertificate
from spicebox.net.transport import Endpoint
from spicebox.system.network import ETHERNET, Device
from spicebox.ui.app import Page
from spicebox.ui.pages.audio import AudioPage
from spicebox.ui.pages.diagnostics import DiagnosticsPage
from spicebox.ui.pages.home import HomePage
from spicebox.ui.pages.lock import AdminPinPage, PinPage
from spicebox.ui.pages.network import NetworkPage, WiredPage
from spicebox.ui.pages.profiles import (
    ImportPage,
    ProfilePage,
    ProfilesPage,
    TrustPage,
    VmPage,
)
from spicebox.ui.pages.reconnect import ReconnectPage
from spicebox.ui.pages.settings import SectionPage
from spicebox.ui.pages.system import SystemPage
from spicebox.ui.pages.usb import UsbPage
from spicebox.usb.filter import UsbDevice, UsbInterface

from .certs import make_x509_dir
from .dbus import mock_system_bus, start_network_manager, start_system_services
from .ui import UiDriver


def shoot(directory: Path, size: tuple[int, int]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    shots = []
    with tempfile.TemporaryDirectory() as scratch, mock_system_bus() as bus:
        start_network_manager(bus)
        start_system_services(bus)
        root = Path(scratch)
        ui = UiDriver(root / "config", size, kiosk=True, import_dirs=(root / "media",))
        ui.store.set_many({
            "profiles.office.host": "vdi.example.org", "profiles.office.tls-port": "5901",
            "profiles.office.title": "Office desktop", "profiles.lab.host": "10.20.0.5",
            "profiles.lab.port": "5900", "profiles.pve.proxmox-url": "pve.example.org",
            "profiles.pve.proxmox-user": "kiosk", "profiles.pve.proxmox-realm": "pve",
            "profiles.pve.proxmox-token": "thin=00000000-1111-2222-3333-444444444444",
            "profiles.pve.proxmox-vmid": "104", "profiles.pve.title": "Accounting VM",
            "default-profile": "office"})
        stick = root / "media" / "USB-STICK"
        stick.mkdir(parents=True)
        (stick / "pve-spice.vv").write_text("[virt-viewer]\nhost=pve\nport=5900\n")
        make_x509_dir(root / "x509")
        pem = (root / "x509" / "server-cert.pem").read_text()
        certificate = ServerCertificate(ssl.PEM_cert_to_DER_cert(pem))
        app = ui.app

        def page(name: str, make: Page, then: str = "", services: bool = False) -> None:
            """``services``: the page's questions go to the mock system bus; else they
            are dropped (the sample servers are not asked anything)."""
            ui.app.stack.clear()
            ui.open(make)
            if services:
                ui.settle()
            if then:
                ui.tap(then)
                if services:
                    ui.settle()
            ui.tick(0.1)
            ui.app.jobs.clear()
            path = directory / f"{name}.png"
            save_png(ui.render(), path)
            shots.append(path)
        page("home", HomePage(app))
        page("profiles", ProfilesPage(app))
        page("profile", ProfilePage(app, "office"))
        page("profile-keyboard", ProfilePage(app, "office"), then="Server")
        page("proxmox", ProfilePage(app, "pve"))
        page("vms", VmPage(app, [Vm(101, "reception", "pve1", "running"),
                                 Vm(104, "accounting", "pve2", "running"),
                                 Vm(230, "lab-win11", "pve2", "stopped")], lambda _: None))
        page("trust", TrustPage(app, Endpoint("vdi.example.org", 5901), certificate,
                                lambda _: None))
        page("import", ImportPage(app))
        page("display", SectionPage(app, "display", "Display"))
        page("sound", AudioPage(app, cards=["PCH", "Headset"]))
        page("usb", UsbPage(app, [
            ("SanDisk Ultra", UsbDevice(0, 0x0781, 0x5581, 0x0100,
                                        (UsbInterface(8, 6, 0x50),))),
            ("Wacom STU-430", UsbDevice(0, 0x056A, 0x00A8, 0x0100,
                                        (UsbInterface(3, 0, 0),))),
            ("Logitech Keyboard K120", UsbDevice(0, 0x046D, 0xC31C, 0x6400,
                                                 (UsbInterface(3, 1, 1),)))]))
        page("network", NetworkPage(app), services=True)
        page("wifi", NetworkPage(app), then="wlan0", services=True)
        wired = WiredPage(app, Device("/", "eth0", ETHERNET, "connected"))
        wired.mode.step(1)
        wired.address.text, wired.gateway.text = "192.168.7.20/24", "192.168.7.1"
        wired.dns.text = "192.168.7.1 9.9.9.9"
        page("wired", wired)
        page("system", SystemPage(app), services=True)
        page("admin-pin", AdminPinPage(app))
        page("pin", PinPage(app, lambda: None))
        page("diagnostics", DiagnosticsPage(app))
        page("reconnect", ReconnectPage(
            app, "vdi.example.org:5901 (TLS)", "cannot connect to vdi.example.org:5901: "
            "Connection refused: check the address, the port, and that it runs", 8.0))
    return shots


if __name__ == "__main__":
    size = tuple(int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "800x480").split("x"))
    for shot in shoot(Path(sys.argv[1]), (size[0], size[1])):
        print(shot)
