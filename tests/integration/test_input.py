"""Keys and the mouse, given to the client's window through the X server (XTEST, as a
user's keyboard would), reach the guest's kernel as the same evdev events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from Xlib import X
from Xlib import display as xdisplay
from Xlib.ext import xtest

from spicebox.config.target import parse_uri
from spicebox.display.sdl import SdlPresenter
from spicebox.spice.constants import MouseMode
from tests.guests import console
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer
from tests.rig.xvfb import window_named, xvfb

EV_KEY, EV_REL = 1, 2
REL_X, REL_Y = 0, 1
BTN_LEFT, BTN_RIGHT = 0x110, 0x111

# evdev codes: letters, digits, the extended block (E0 prefix), the ISO and Japanese
# keys, multimedia keys, function keys.
KEYS = [30, 48, 2, 11, 28, 14, 15, 57, 42, 29, 56, 97, 100, 96, 98, 102, 107, 103, 108,
        105, 106, 110, 111, 125, 127, 86, 89, 124, 88, 113, 115, 114, 1]


@dataclass
class Rig:
    qemu: QemuServer
    serial: console.SerialConsole
    client: ClientThread
    x: xdisplay.Display

    def guest_events(self, count: int, timeout: float = 30.0) -> list[tuple[str, int, int, int]]:
        """The next ``count`` key and motion events the guest's kernel reported."""
        found: list[tuple[str, int, int, int]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            line = self.serial.wait_for(console.INPUT, max(0.1, deadline - time.monotonic()))
            device, kind, code, low, high = line.split()[2:7]
            if int(kind) in (EV_KEY, EV_REL):
                value = int(low) | int(high) << 16
                found.append((device, int(kind), int(code),
                              value - (1 << 32) if value >= 1 << 31 else value))
        return found


@pytest.fixture(scope="module")
def rig(console_guest: console.ConsoleGuest) -> Iterator[Rig]:
    with xvfb() as display, pytest.MonkeyPatch.context() as env:
        env.setenv("DISPLAY", display)
        with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args(), serial=True) as qemu:
            assert qemu.serial_path is not None
            with console.SerialConsole(qemu.serial_path) as serial, \
                    ClientThread(parse_uri(qemu.uri()),
                                 presenter=lambda: SdlPresenter("x11", "input")) as client:
                serial.wait_for(console.READY, 120)
                assert_shows_guest_screen(client, qemu)
                serial.send("input")
                serial.wait_for(f"{console.INPUT} ready", 30)
                deadline = time.monotonic() + 30
                while client.session.inputs is None or not client.session.inputs.linked:
                    assert time.monotonic() < deadline, "the inputs channel never linked"
                    time.sleep(0.1)
                x = xdisplay.Display(display)
                try:
                    # The pointer inside the window, away from its edges.
                    origin = window_named(x, "input").translate_coords(
                        x.screen().root, 0, 0)
                    xtest.fake_input(x, X.MotionNotify, x=-origin.x + 300,
                                     y=-origin.y + 300)
                    x.sync()
                    yield Rig(qemu, serial, client, x)
                finally:
                    x.close()


def test_keys_reach_the_guest_as_the_same_evdev_codes(rig: Rig) -> None:
    got: list[tuple[int, int]] = []
    for code in KEYS:
        # One key at a time, as typed: the guest's event queue is short, and its shell
        # reads it slowly.
        xtest.fake_input(rig.x, X.KeyPress, code + 8)  # X keycodes are evdev + 8
        xtest.fake_input(rig.x, X.KeyRelease, code + 8)
        rig.x.sync()
        got += [(code, value) for _, kind, code, value in rig.guest_events(2)
                if kind == EV_KEY]
    assert got == [(code, value) for code in KEYS for value in (1, 0)]


def test_relative_motion_and_buttons_reach_the_guest_mouse(rig: Rig) -> None:
    # No tablet and no agent: the server offers only server (relative) mouse mode.
    assert rig.client.session.mouse_mode == MouseMode.SERVER
    for dx, dy in ((30, 0), (0, 20), (-10, -5)):
        xtest.fake_input(rig.x, X.MotionNotify, True, x=dx, y=dy)
        rig.x.sync()
        time.sleep(0.05)
    xtest.fake_input(rig.x, X.ButtonPress, 1)
    xtest.fake_input(rig.x, X.ButtonRelease, 1)
    xtest.fake_input(rig.x, X.ButtonPress, 3)
    xtest.fake_input(rig.x, X.ButtonRelease, 3)
    rig.x.sync()
    moved = {REL_X: 0, REL_Y: 0}
    buttons: list[tuple[int, int]] = []
    deadline = time.monotonic() + 30
    while moved != {REL_X: 20, REL_Y: 15} or len(buttons) < 4:
        for _, kind, code, value in rig.guest_events(1, max(0.1, deadline - time.monotonic())):
            if kind == EV_REL and code in moved:
                moved[code] += value
            elif kind == EV_KEY:
                buttons.append((code, value))
    assert buttons == [(BTN_LEFT, 1), (BTN_LEFT, 0), (BTN_RIGHT, 1), (BTN_RIGHT, 0)]
