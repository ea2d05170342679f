"""`make test-image`: USB devices plugged into the thin client (QEMU's emulated devices
on the box's xHCI controller, so the kiosk meets them through the box's own kernel, udev
rule and libusb, as on hardware) are redirected over SPICE to the desktop: a stick its
kernel reads (bulk transfers; pulling it out leaves the session up) and a sound card it
plays to (isochronous), while a keyboard stays with the box."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.guests import console
from tests.image.test_boot import BOOT_TIMEOUT, the_tone_in, thin_client
from tests.rig.image import IMAGE, preconfigured_for, wait_for_server_screen
from tests.rig.qemu import USB_REDIRECT, VGA_DEVICES, QemuServer

pytestmark = [pytest.mark.skipif(not IMAGE.is_file(),
                                 reason="run `make test-image` (it builds the image first)"),
              pytest.mark.timeout(3 * BOOT_TIMEOUT)]

STICK_MIB = 4
QEMU_STORAGE = "46f4:0001"  # QEMU's usb-storage: vendor and product
QEMU_AUDIO = "46f4:0002"  # QEMU's usb-audio


@contextmanager
def box_in_session(tmp_path: Path, box_args: list[str]) -> Iterator[
        tuple[QemuServer, QemuServer, console.SerialConsole]]:
    """The console guest as the desktop (with a usbredir channel), and the box VM (with
    ``box_args``: its USB controller and devices) showing it through the kiosk."""
    guest = console.build(console.default_cache_dir())
    with QemuServer(VGA_DEVICES["std"] + guest.qemu_args() + USB_REDIRECT,
                    serial=True) as server, \
            console.SerialConsole(str(server.serial_path)) as serial, \
            QemuServer(thin_client(tmp_path, preconfigured_for(server, tmp_path)) + box_args,
                       serial=True, memory=1024, nic="user,model=virtio-net-pci") as box:
        serial.wait_for(console.READY, 120)
        wait_for_server_screen(box, server, BOOT_TIMEOUT, "the desktop")
        yield server, box, serial


def test_a_stick_plugged_into_the_box_reaches_the_desktop_and_can_be_pulled(
        tmp_path: Path) -> None:
    stick = tmp_path / "stick.img"
    stick.write_bytes(random.Random(8).randbytes(STICK_MIB * 1024 * 1024))
    expected = hashlib.sha256(stick.read_bytes()[:1024 * 1024]).hexdigest()
    box_usb = ["-device", "qemu-xhci,id=xhci",
               "-drive", f"if=none,id=stick,format=raw,file={stick}"]
    with box_in_session(tmp_path, box_usb) as (server, box, serial):
        assert box.qmp is not None
        serial.send("usb")
        serial.wait_for(f"{console.USB} waiting", 60)
        plugged = time.monotonic()
        box.qmp.execute("device_add", driver="usb-storage", drive="stick", bus="xhci.0",
                        id="stick0")
        line = serial.wait_for(f"{console.USB} disk", 180)
        seconds = time.monotonic() - plugged
        assert line.split()[3:] == [QEMU_STORAGE, f"sha256={expected}"], line
        box.qmp.execute("device_del", id="stick0")
        time.sleep(10)  # the box notices, lets the device go, and goes on
        serial.send("show 1")
        serial.wait_for(console.SHOWN, 60)
        wait_for_server_screen(box, server, 60, "the desktop after the stick left")
    print(f"plugged into the box to read on the desktop: {seconds:.1f} s (TCG)")


def test_the_desktop_plays_to_a_sound_card_plugged_into_the_box(tmp_path: Path) -> None:
    """QEMU's usb-audio (a full-speed card with an isochronous OUT endpoint) plugged into
    the box goes to the desktop, whose kernel finds a USB sound card and plays the tone
    to it: the box's kiosk keeps the stream of packets flowing to the card (libusb
    asynchronous transfers), and QEMU keeps what the card played in a WAV file. A USB
    keyboard plugged in beside it stays with the box (the default filter)."""
    played = tmp_path / "usb-card.wav"
    box_usb = ["-device", "qemu-xhci,id=xhci", "-audiodev", f"wav,id=card,path={played}"]
    with box_in_session(tmp_path, box_usb) as (_, box, serial):
        assert box.qmp is not None
        box.qmp.execute("device_add", driver="usb-kbd", bus="xhci.0", id="keyboard")
        serial.send("usbplay")
        plugged = time.monotonic()
        box.qmp.execute("device_add", driver="usb-audio", audiodev="card", bus="xhci.0",
                        id="card0")
        line = serial.wait_for(f"{console.AUDIO} usb", 180)
        seconds = time.monotonic() - plugged
        # The only USB device the desktop ever sees is the card: had the keyboard come
        # first, it would have taken the one redirection channel.
        assert line.split()[3:] == [QEMU_AUDIO], line
        serial.wait_for(f"{console.AUDIO} played", 120)
        time.sleep(2)  # the card's buffers drain
    print(f"plugged into the box to a sound card on the desktop: {seconds:.1f} s (TCG); "
          f"the card played {the_tone_in(played)}")
