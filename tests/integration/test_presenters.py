"""The SDL presenter on a real X server shows exactly what the client holds."""

from __future__ import annotations

import time

import numpy as np
import pytest

from spicebox import sdl_loader
from spicebox.config.target import parse_uri
from spicebox.display.sdl import SdlPresenter
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import RGB, VGA_DEVICES, QemuServer
from tests.rig.xvfb import xvfb


def test_x11_window_equals_the_canvas(monkeypatch: pytest.MonkeyPatch) -> None:
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        with QemuServer(VGA_DEVICES["std"]) as qemu, \
                ClientThread(parse_uri(qemu.uri()),
                             presenter=lambda: SdlPresenter("x11", "test")) as client:
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
                if held is not None and np.array_equal(shown, held):
                    break
                assert time.monotonic() < deadline, "the window never matched the canvas"
                time.sleep(0.1)
            assert client.session.frames_presented > 0
