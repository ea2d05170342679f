"""A key typed before any operating system runs: Esc in the client's window opens
SeaBIOS's boot menu (PS/2 keyboard, read by the BIOS itself)."""

from __future__ import annotations

import re
import time

import pytest
from Xlib import X
from Xlib import display as xdisplay
from Xlib.ext import xtest

from spicebox.config.target import parse_uri
from spicebox.display.sdl import SdlPresenter
from tests.rig.client import ClientThread
from tests.rig.qemu import QemuServer
from tests.rig.xvfb import window_named, xvfb

KEY_ESC = 1


def vga_text(qemu: QemuServer) -> str:
    """The 80x25 text screen, read from the VGA text buffer through QEMU's monitor."""
    assert qemu.qmp is not None
    dump = qemu.qmp.execute("human-monitor-command", **{"command-line": "xp /4000bx 0xb8000"})
    cells = [int(value, 16) for value in re.findall(r"0x([0-9a-f]{2})\b", dump)]
    chars = "".join(chr(c) if 32 <= c < 127 else " " for c in cells[::2])
    return "\n".join(chars[i:i + 80] for i in range(0, len(chars), 80))


def wait_for_text(qemu: QemuServer, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while needle not in (text := vga_text(qemu)):
        assert time.monotonic() < deadline, f"no {needle!r} on the screen:\n{text}"
        time.sleep(0.2)


def test_esc_opens_the_boot_menu(monkeypatch: pytest.MonkeyPatch) -> None:
    with xvfb("2560x1600x24") as display:
        monkeypatch.setenv("DISPLAY", display)
        # The BIOS waits a minute for the key instead of its default 2.5 s.
        with QemuServer(["-vga", "std", "-boot", "menu=on,splash-time=60000"]) as qemu, \
                ClientThread(parse_uri(qemu.uri()),
                             presenter=lambda: SdlPresenter("x11", "bios")) as client:
            wait_for_text(qemu, "Press ESC for boot menu", 60)
            deadline = time.monotonic() + 30
            while client.session.inputs is None or not client.session.inputs.linked \
                    or client.session.frames_presented == 0:
                assert time.monotonic() < deadline, "the client never got going"
                time.sleep(0.1)
            x = xdisplay.Display(display)
            try:
                origin = window_named(x, "bios").translate_coords(x.screen().root, 0, 0)
                xtest.fake_input(x, X.MotionNotify, x=100 - origin.x, y=100 - origin.y)
                xtest.fake_input(x, X.KeyPress, KEY_ESC + 8)
                xtest.fake_input(x, X.KeyRelease, KEY_ESC + 8)
                x.sync()
            finally:
                x.close()
            wait_for_text(qemu, "Select boot device", 30)
