"""The console guest's `usb` command, checked without SPICE: QEMU's own usb-storage on the
xHCI bus stands in for a stick redirected over SPICE, there at boot or plugged (over QMP)
while the guest waits. The SPICE client's USB redirection tests rely on `usb` reporting
exactly this."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.guests import console
from tests.rig.qemu import VGA_DEVICES, QemuServer

# What QEMU's usb-storage says it is.
QEMU_STORAGE_IDS = (0x46F4, 0x0001)
STICK_BYTES = 4 * 1024 * 1024


def make_stick(path: Path) -> str:
    """A raw disk image of deterministic bytes; the SHA-256 `usb` should report for it."""
    data = hashlib.shake_256(b"spicebox usb stick").digest(STICK_BYTES)
    path.write_bytes(data)
    return hashlib.sha256(data[:console.USB_HASHED_BYTES]).hexdigest()


def xhci_with_drive(stick: Path) -> list[str]:
    """An xHCI controller and the stick as a drive, on no device yet."""
    return ["-device", "qemu-xhci,id=xhci",
            "-drive", f"if=none,id=stick,format=raw,file={stick}"]


def assert_reports(line: str, sha256: str) -> None:
    match = re.fullmatch(rf"{console.USB} disk ([0-9a-f]{{4}}):([0-9a-f]{{4}}) "
                         r"sha256=([0-9a-f]{64})", line)
    assert match is not None, line
    assert (int(match[1], 16), int(match[2], 16)) == QEMU_STORAGE_IDS, line
    assert match[3] == sha256


def test_usb_reports_a_stick_there_at_boot(console_guest: console.ConsoleGuest,
                                           tmp_path: Path) -> None:
    stick = tmp_path / "stick.raw"
    sha256 = make_stick(stick)
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args() + xhci_with_drive(stick)
                    + ["-device", "usb-storage,drive=stick,bus=xhci.0"], serial=True) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            serial.send("usb")
            serial.wait_for(f"{console.USB} waiting", 30)
            assert_reports(serial.wait_for(f"{console.USB} disk", 60), sha256)
            serial.send("usbread 2")
            line = serial.wait_for(f"{console.USB} read", 60)
    assert re.fullmatch(rf"{console.USB} read 2 MiB in \d+ ms", line), line


def test_usb_waits_for_a_stick_plugged_later(console_guest: console.ConsoleGuest,
                                             tmp_path: Path) -> None:
    stick = tmp_path / "stick.raw"
    sha256 = make_stick(stick)
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args() + xhci_with_drive(stick),
                    serial=True) as qemu:
        assert qemu.serial_path is not None and qemu.qmp is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            serial.send("usb")
            serial.wait_for(f"{console.USB} waiting", 30)
            # The guest keeps taking commands while it waits.
            serial.send("show 1")
            serial.wait_for(f"{console.SHOWN} image=1", 30)
            qemu.qmp.execute("device_add", driver="usb-storage", drive="stick", bus="xhci.0",
                             id="usb1")
            assert_reports(serial.wait_for(f"{console.USB} disk", 60), sha256)
