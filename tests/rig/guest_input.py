"""The console guest reporting its input events, and the client in an Xvfb window, for
the input tests: what X is told to type or move must come out of the guest's evdev."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from Xlib import X
from Xlib import display as xdisplay
from Xlib.ext import xtest

from spicebox.config.target import parse_uri
from spicebox.display.sdl import SdlPresenter
from tests.guests import console
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer
from tests.rig.xvfb import window_named, xvfb

EV_KEY, EV_REL, EV_ABS = 1, 2, 3
REL_X, REL_Y = 0, 1
ABS_X, ABS_Y = 0, 1
ABS_MAX = 0x7FFF  # QEMU's absolute axes run 0..0x7FFF across the screen
BTN_LEFT, BTN_RIGHT, BTN_MIDDLE = 0x110, 0x111, 0x112


@dataclass
class Rig:
    qemu: QemuServer
    serial: console.SerialConsole
    client: ClientThread
    x: xdisplay.Display
    devices: dict[str, str] = field(default_factory=dict)  # eventN -> name, once read

    def wait_for_device(self, name_part: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(name_part in name for name in self.devices.values()):
            self._note_device(self.serial.wait_for(f"{console.INPUT} device",
                                                   max(0.1, deadline - time.monotonic())))

    def _note_device(self, line: str) -> None:
        """``SPICEBOX-GUEST INPUT device <eventN> <name>``"""
        _, _, _, device, name = line.split(maxsplit=4)
        self.devices[device] = name

    def guest_events(self, count: int, timeout: float = 30.0,
                     kinds: tuple[int, ...] = (EV_KEY, EV_REL, EV_ABS),
                     ) -> list[tuple[str, int, int, int]]:
        """The next ``count`` events of ``kinds`` the guest's kernel reported (others,
        such as the motion of putting the pointer in the window, are passed over)."""
        found: list[tuple[str, int, int, int]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            line = self.serial.wait_for(console.INPUT, max(0.1, deadline - time.monotonic()))
            if line.split()[2] == "device":
                self._note_device(line)
                continue
            device, kind, code, low, high = line.split()[2:7]
            if int(kind) in kinds:
                value = int(low) | int(high) << 16
                found.append((device, int(kind), int(code),
                              value - (1 << 32) if value >= 1 << 31 else value))
        return found

    def point_at(self, x: int, y: int) -> None:
        """Put the X pointer at (x, y) of the client's window."""
        origin = window_named(self.x, "input").translate_coords(self.x.screen().root, 0, 0)
        xtest.fake_input(self.x, X.MotionNotify, x=x - origin.x, y=y - origin.y)
        self.x.sync()


@contextmanager
def booted(guest: console.ConsoleGuest, extra: list[str]) -> Iterator[Rig]:
    """The console guest reporting its input events, the client in an Xvfb window with
    the X pointer inside it."""
    # A screen well larger than the window, wherever it is placed: the X pointer stops at
    # the screen's edge.
    with xvfb("2560x1600x24") as display, pytest.MonkeyPatch.context() as env:
        env.setenv("DISPLAY", display)
        with QemuServer(VGA_DEVICES["std"] + guest.qemu_args() + extra, serial=True) as qemu:
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
                    rig = Rig(qemu, serial, client, x)
                    # The PS/2 mouse is probed in the background, through the same
                    # controller as the keyboard: keys typed meanwhile can be lost.
                    rig.wait_for_device("keyboard")
                    rig.wait_for_device("PS/2 Generic")
                    rig.point_at(300, 300)
                    yield rig
                finally:
                    x.close()
