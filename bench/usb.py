"""`make bench`, part six: USB bulk throughput of a redirected stick, against usbredirect.

The stick is QEMU's usb-storage (a STICK_MIB image) on a box VM's xHCI controller; the
desktop VM (the console guest) reads READ_MIB of it through usb-redir and times the read.
The box is, in turn:

- spicebox's qemu-x86_64 image, as shipped: the kiosk redirects the stick over SPICE's
  usbredir channel (pyusb, in Python);
- stock Debian 12 (bench/boot.py's, plus usbredir's own usbredirect, libusbredirhost in
  C) connected straight to the desktop QEMU's usb-redir chardev over TCP: the same
  usbredir host work without SPICE around it, which is what remote-viewer's spice-gtk
  does too.

Both under QEMU TCG on this machine (the box's CPU is emulated): the ratio compares the
two hosts' costs, not a board's real MB/s.
"""

from __future__ import annotations

import os
import random
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.boot import stock_debian
from tests.guests import console
from tests.rig.image import IMAGE, board_vm, preconfigured_for
from tests.rig.qemu import USB_REDIRECT, VGA_DEVICES, QemuServer, free_port

STICK_MIB = 64
READ_MIB = 32
TIMEOUT = 600.0
QEMU_STORAGE = "46f4:0001"
FW_CFG = "opt/spicebox/usbredirect"  # where the reference box finds the desktop's port
# The reference box: usbredirect started once the network is up, aimed at what fw_cfg
# says (the desktop QEMU's usb-redir chardev, through the box's user network).
_UNIT = f"""[Unit]
Description=usbredirect for the USB benchmark
Wants=network-online.target
After=network-online.target
[Service]
ExecStartPre=-/sbin/modprobe qemu_fw_cfg
ExecStart=/bin/sh -c 'exec usbredirect --device {QEMU_STORAGE} --to \\
    "$$(cat /sys/firmware/qemu_fw_cfg/by_name/{FW_CFG}/raw)"'
Restart=always
RestartSec=1
[Install]
WantedBy=multi-user.target
"""
_NETWORK = "[Match]\nName=en*\n[Network]\nDHCP=yes\n"


def reference_box(cache: Path) -> Path:
    """Stock Debian 12 with usbredirect started at boot (built once into the cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        unit, network = Path(tmp) / "bench-usbredirect.service", Path(tmp) / "80-dhcp.network"
        unit.write_text(_UNIT)
        network.write_text(_NETWORK)
        return stock_debian(cache, "stock-debian-12-usbredirect-r1", ("usbredirect",), (
            f"upload {network} /etc/systemd/network/80-dhcp.network",
            f"upload {unit} /etc/systemd/system/bench-usbredirect.service",
            'chroot "$1" systemctl enable systemd-networkd bench-usbredirect.service'))


def read_speed(desktop: QemuServer, serial: console.SerialConsole) -> float:
    """MB/s of the desktop's read, once the stick has arrived there."""
    line = serial.wait_for(f"{console.USB} disk", TIMEOUT)
    if QEMU_STORAGE not in line:
        raise RuntimeError(f"another disk arrived: {line}")
    serial.send(f"usbread {READ_MIB}")
    done = serial.wait_for(f"{console.USB} read", TIMEOUT)
    found = re.search(r"in (\d+) ms", done)
    assert found, done
    return READ_MIB * 1.048576 / (int(found[1]) / 1000)


def box_usb(stick: Path) -> list[str]:
    return ["-device", "qemu-xhci,id=xhci",
            "-drive", f"if=none,id=stick,format=raw,file={stick}",
            "-device", "usb-storage,drive=stick,bus=xhci.0"]


def speed(guest: console.ConsoleGuest, redirect: list[str],
          box: Callable[[QemuServer], list[str]]) -> float:
    """MB/s through a desktop VM with ``redirect`` (its usb-redir) and a box VM with
    ``box(desktop)`` (QEMU arguments, the stick among them)."""
    with QemuServer(VGA_DEVICES["std"] + guest.qemu_args() + redirect,
                    serial=True) as desktop:
        assert desktop.serial_path is not None
        with console.SerialConsole(desktop.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            serial.send("usb")
            with QemuServer(box(desktop), serial=True, memory=1024,
                            nic="user,model=virtio-net-pci"):
                return read_speed(desktop, serial)


def main() -> int:
    if not IMAGE.is_file():
        print("no image: run `make image BOARD=qemu-x86_64` first")
        return 1
    cache = Path(os.environ.get("SPICEBOX_CACHE", Path.home() / ".cache/spicebox"))
    reference = reference_box(cache)
    guest = console.build(console.default_cache_dir())
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        stick = scratch / "stick.img"
        stick.write_bytes(random.Random(9).randbytes(STICK_MIB * 1024 * 1024))
        ours = speed(guest, USB_REDIRECT, lambda desktop: board_vm(
            "qemu-x86_64", preconfigured_for(desktop, scratch), scratch) + box_usb(stick))
        port = free_port()
        theirs = speed(guest, [
            "-device", "qemu-xhci,id=xhci",
            "-chardev", f"socket,id=ur,host=127.0.0.1,port={port},server=on,wait=off",
            "-device", "usb-redir,chardev=ur,bus=xhci.0",
        ], lambda desktop: board_vm("qemu-x86_64", reference, scratch) + box_usb(stick)
            + ["-fw_cfg", f"name={FW_CFG},string=10.0.2.2:{port}"])
    print(f"USB stick redirected to the desktop, {READ_MIB} MiB read (TCG):")
    print(f"  spicebox {ours:5.2f} MB/s, usbredirect {theirs:5.2f} MB/s: ratio "
          f"{ours / theirs:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
