"""The SDL presenter on a real X server shows exactly what the client holds."""

from __future__ import annotations

import time
import tracemalloc
import weakref
from collections.abc import Iterator

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


@pytest.fixture
def x11(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SdlPresenter, str]]:
    """An SDL presenter (its window titled "test") on an X server of its own, and the
    server's display name."""
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        presenter = SdlPresenter("x11", "test")
        try:
            yield presenter, display
        finally:
            presenter.close()


def test_each_monitor_gets_its_own_window(x11: tuple[SdlPresenter, str]) -> None:
    presenter, _ = x11
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


def window_pixels() -> np.ndarray:
    """What monitor 0's window holds, (height, width) XRGB like a surface."""
    pygame = sdl_loader.pygame()
    shown: np.ndarray = pygame.surfarray.array2d(pygame.display.get_surface()).T & 0xFFFFFF
    return shown


def drawn_in_window(surface: Surface) -> bool:
    """(Only while the window has its size: asking for its surface after a change is what
    makes SDL drop the old memory.)"""
    pygame = sdl_loader.pygame()
    return bool(surface.pixels.ctypes.data == pygame.display.get_surface()._pixels_address)


def patterned(width: int, height: int) -> Surface:
    surface = Surface(0, width, height, 32, primary=True)
    surface.pixels[:] = np.arange(width * height, dtype=np.uint32).reshape(height, width)
    return surface


def test_a_whole_monitor_is_drawn_in_the_windows_memory(x11: tuple[SdlPresenter, str]) -> None:
    presenter, _ = x11
    surface = patterned(64, 48)
    whole = [Monitor(surface, surface.bounds)]
    held = surface.pixels.copy()
    presenter.present(whole, [[]])
    assert drawn_in_window(surface)
    assert np.array_equal(surface.pixels, held)
    assert np.array_equal(window_pixels(), held)
    # Drawing is all it takes; presenting the box only tells SDL to show it.
    surface.pixels[10:20, 5:15] = 0x123456
    presenter.present(whole, [[Box(5, 10, 15, 20)]])
    assert np.array_equal(window_pixels(), surface.pixels)
    # Two heads on the surface: it gets memory of its own back, unchanged.
    held = surface.pixels.copy()
    heads = [Monitor(surface, Box(0, 0, 32, 48)), Monitor(surface, Box(32, 0, 64, 48))]
    presenter.present(heads, [[], []])
    assert not drawn_in_window(surface)
    assert np.array_equal(surface.pixels, held)
    assert np.array_equal(window_pixels(), held[:, :32])


def test_a_surface_let_go_of_is_not_kept(x11: tuple[SdlPresenter, str]) -> None:
    """The next screen's surface replaces it: it gets no copy (a screenful of memory at
    each change of mode), nor stays alive."""
    presenter, _ = x11
    first = patterned(640, 480)
    presenter.present([Monitor(first, first.bounds)], [[]])
    gone = weakref.ref(first)
    del first
    second = patterned(80, 60)
    tracemalloc.start()  # numpy reports its buffers to it
    try:
        presenter.present([Monitor(second, second.bounds)], [[]])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 640 * 480 * 4
    assert gone() is None
    assert drawn_in_window(second)


@pytest.mark.parametrize("change", ["resize", "fullscreen"])
def test_the_window_changing_size_keeps_the_picture(x11: tuple[SdlPresenter, str],
                                                     change: str) -> None:
    """SDL drops a window's memory when its size changes: the surface drawn in it keeps
    its pixels, and the window in its new size shows them all again."""
    presenter, display = x11
    surface = patterned(64, 48)
    whole = [Monitor(surface, surface.bounds)]
    presenter.present(whole, [[]])
    assert drawn_in_window(surface)
    held, window_memory = surface.pixels.copy(), surface.pixels.ctypes.data
    if change == "resize":
        x = xdisplay.Display(display)
        try:  # as a window manager does when the user drags the window's corner
            window_named(x, "test").configure(width=96, height=72)
            x.sync()
        finally:
            x.close()
    else:
        presenter.toggle_fullscreen()
    deadline = time.monotonic() + 10
    while surface.pixels.ctypes.data == window_memory \
            or not np.array_equal(window_pixels()[:48, :64], held):
        presenter.events()
        assert time.monotonic() < deadline, "the window never showed it all again"
        time.sleep(0.05)
    if change == "resize":  # (Xvfb, without a window manager, keeps the size in
        # fullscreen; pygame makes the window anew, which frees its memory too)
        assert sdl_loader.pygame().display.get_window_size() == (96, 72)
    assert np.array_equal(surface.pixels, held)
    # Drawing goes on in the surface's own memory, and reaches the window.
    surface.pixels[0:4, 0:4] = 0xABCDEF
    presenter.present(whole, [[Box(0, 0, 4, 4)]])
    assert np.array_equal(window_pixels()[:48, :64], surface.pixels)


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
