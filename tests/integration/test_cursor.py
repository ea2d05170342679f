"""The cursor channel against a real server: the console guest sets a hardware cursor
through virtio-gpu's DRM driver (tests/guests/drmcursor.c), QEMU forwards it to its SPICE
cursor channel, and the client must hold exactly that image, hot spot and position."""

from __future__ import annotations

import time

import numpy as np

from spicebox.config.target import parse_uri
from spicebox.display.headless import HeadlessPresenter
from spicebox.spice.events import CursorState
from tests.guests import console
from tests.rig.client import ClientThread
from tests.rig.qemu import VGA_DEVICES, QemuServer


def expected_cursor() -> np.ndarray:
    """drmcursor's image as the client keeps cursors: ARGB, straight alpha."""
    side = console.CURSOR_SIDE
    row, col = np.mgrid[0:side, 0:side].astype(np.uint32)
    opaque = (row < 32) & (col < 32)
    image = 0xFF000000 | (col * 8) << 16 | (row * 8) << 8 | 0x80
    return np.where(opaque, image, 0).astype(np.uint32)


def wait_for_cursor(client: ClientThread, at: tuple[int, int],
                    timeout: float = 30) -> CursorState:
    """The cursor once it is shown at ``at``: QEMU sends the shape (at the old position)
    and the move separately."""
    deadline = time.monotonic() + timeout
    state = client.in_loop(lambda: client.session.cursor)
    while time.monotonic() < deadline:
        state = client.in_loop(lambda: client.session.cursor)
        if state.shape is not None and state.visible and (state.x, state.y) == at:
            return state
        time.sleep(0.1)
    raise AssertionError(f"the cursor never showed at {at}: the client has {state}")


def test_the_guests_hardware_cursor_reaches_the_client(
        console_guest: console.ConsoleGuest) -> None:
    with QemuServer(VGA_DEVICES["virtio"] + console_guest.qemu_args(), serial=True) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri())) as client:
            serial.wait_for(console.READY, 120)
            serial.send("cursor 200 150")
            serial.wait_for(f"{console.SHOWN} cursor", 60)
            # The hot spot's position, as QEMU reports it.
            state = wait_for_cursor(client, (200 + console.CURSOR_HOT[0],
                                             150 + console.CURSOR_HOT[1]))
            assert state.shape is not None
            assert (state.shape.hot_x, state.shape.hot_y) == console.CURSOR_HOT
            assert np.array_equal(state.shape.pixels, expected_cursor())
            # And the presenter was given it to show.
            presenter = client.session.presenter
            assert isinstance(presenter, HeadlessPresenter)
            assert client.in_loop(lambda: presenter.cursor) is state.shape
