"""The SDL presenter on a real X server shows exactly what the client holds."""

from __future__ import annotations

import time

import numpy as np
import pytest
from Xlib import X
from Xlib import display as xdisplay
from Xlib.protocol import event as xevent

from spicebox import sdl_loader
from spicebox.canvas.monitors import Monitor
from spicebox.canvas.surface import Box, Surface
from spicebox.config.target import parse_uri
from spicebox.display.base import Presenter
from spicebox.display.rotate import Rotated, Rotation
from spicebox.display.sdl import SdlPresenter
from tests.guests import console
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import RGB, VGA_DEVICES, QemuServer
from tests.rig.xvfb import window_named, xvfb


@pytest.mark.parametrize("degrees", [0, 90])
def test_x11_window_equals_the_canvas(monkeypatch: pytest.MonkeyPatch, degrees: int) -> None:
    """Exactly the guest's screen, or it turned (display.rotation) for a screen mounted
    on its side."""
    def presenter() -> Presenter:
        sdl = SdlPresenter("x11", "test")
        return Rotated(sdl, Rotation(degrees)) if degrees else sdl
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        with QemuServer(VGA_DEVICES["std"]) as qemu, \
                ClientThread(parse_uri(qemu.uri()), presenter=presenter) as client:
            assert_shows_guest_screen(client, qemu)

            def window() -> RGB:
                pygame = sdl_loader.pygame()  # the presenter has initialised it
                surface = pygame.display.get_surface()
                assert surface is not None, "the presenter never opened its window"
                shown: RGB = pygame.surfarray.array3d(surface).transpose(1, 0, 2)
                return shown

            deadline = time.monotonic() + 30
            while True:
                # The window lags the canvas by at most one refresh; the cursor may blink.
                shown, held = client.in_loop(window), client.snapshot()
                if held is not None and np.array_equal(shown, np.rot90(held, -degrees // 90)):
                    break
                assert time.monotonic() < deadline, "the window never matched the canvas"
                time.sleep(0.1)
            assert client.session.frames_presented > 0


def test_each_monitor_gets_its_own_window(monkeypatch: pytest.MonkeyPatch) -> None:
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        presenter = SdlPresenter("x11", "test")
        try:
            surface = Surface(0, 8, 4, 32, primary=True)
            surface.pixels[:, :4] = 0x112233
            surface.pixels[:, 4:] = 0x445566
            monitors = [Monitor(surface, Box(0, 0, 4, 4)), Monitor(surface, Box(4, 0, 8, 4))]
            presenter.present(monitors, [[], []])  # a new layout is shown whole anyway
            pygame = sdl_loader.pygame()
            first = pygame.surfarray.array2d(pygame.display.get_surface())
            second = pygame.surfarray.array2d(presenter._windows[0].get_surface())
            assert first.shape == second.shape == (4, 4)
            assert {int(v) & 0xFFFFFF for v in first.flat} == {0x112233}
            assert {int(v) & 0xFFFFFF for v in second.flat} == {0x445566}
            # A change on the second monitor reaches its window only.
            surface.pixels[1, 5] = 0x778899
            presenter.present(monitors, [[], [Box(1, 1, 2, 2)]])
            second = pygame.surfarray.array2d(presenter._windows[0].get_surface())
            assert int(second[1, 1]) & 0xFFFFFF == 0x778899
            # Back to one monitor: the extra window goes.
            presenter.present(monitors[:1], [[Box(0, 0, 4, 4)]])
            assert presenter._windows == []
        finally:
            presenter.close()


def close_window(display: str, title: str) -> None:
    """Ask the window titled ``title`` to close, as a window manager's close button does."""
    x = xdisplay.Display(display)
    try:
        window = window_named(x, title)
        protocols, delete = x.intern_atom("WM_PROTOCOLS"), x.intern_atom("WM_DELETE_WINDOW")
        window.send_event(xevent.ClientMessage(window=window, client_type=protocols,
                                               data=(32, [delete, X.CurrentTime, 0, 0, 0])))
        x.flush()
    finally:
        x.close()


def test_closing_the_window_ends_the_session(monkeypatch: pytest.MonkeyPatch,
                                             console_guest: console.ConsoleGuest) -> None:
    # The session sleeps until the X connection has events, without polling: on a still
    # screen, only the close request itself can wake it.
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args(), serial=True) as qemu:
            assert qemu.serial_path is not None
            with console.SerialConsole(qemu.serial_path) as serial, \
                    ClientThread(parse_uri(qemu.uri()),
                                 presenter=lambda: SdlPresenter("x11", "closing")) as client:
                serial.wait_for(console.READY, 120)
                assert_shows_guest_screen(client, qemu)
                frames = client.session.frames_presented
                time.sleep(1)
                assert client.session.frames_presented == frames, "the screen is not still"
                close_window(display, "closing")
                assert client.wait_done(10) is None
                assert not client._thread.is_alive(), "closing the window did not end it"
