"""Two monitors from one QXL device: ``qxl-vga,max_outputs=2`` and X's driver with two heads.

The desktop guest boots with ``spicebox.heads=2`` (X's QXL driver gets NumHeads 2; the
second output starts disconnected, so X comes up on one 1024x768 head as usual). The
scene program's ``heads 2`` then grows the X screen to 2048x768 and switches the second
output on at +1024+0 through RandR: the driver reallocates the primary surface at
2048x768 and sends QEMU a monitors config, which spice-server passes to the client as a
MONITORS_CONFIG with two heads on surface 0. The client shows each head as a monitor.

QEMU gives a QXL device one console whatever its outputs (``screendump`` with ``head``
1 fails: "Device qxl0 (head 1) is not bound to a QemuConsole"), so the reference for
each monitor is its box on the device's whole 2048x768 screendump.

Measured warm (QEMU 7.2 TCG, 2-core host): boot to READY 7.5-8.5 s, the module 9-10 s
after the guest's cache lookup (~10 s on its own, once per session).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spicebox.canvas.surface import Box
from spicebox.config.target import parse_uri
from spicebox.spice import messages as m
from spicebox.spice.wire import decode
from tests.guests import console, desktop
from tests.rig.client import ClientThread, assert_shows_guest_screen, recorded_display
from tests.rig.qemu import VGA_DEVICES, QemuServer

log = logging.getLogger(__name__)

_SCREEN_TIMEOUT = 30.0
_DEVICE = "qxl0"  # the id VGA_DEVICES["qxl-2heads"] gives the qxl-vga device
# Where the scene program puts the heads: side by side, each the size of the first.
_HEADS = (
    Box(0, 0, desktop.WIDTH, desktop.HEIGHT),
    Box(desktop.WIDTH, 0, 2 * desktop.WIDTH, desktop.HEIGHT),
)


@dataclass
class TwoHeads:
    qemu: QemuServer
    serial: console.SerialConsole
    client: ClientThread
    recording: Path

    def command(self, command: str, timeout: float = 30.0) -> str:
        return desktop.command(self.serial, command, timeout)

    def monitor_areas(self) -> list[Box]:
        return self.client.in_loop(
            lambda: [monitor.area for _, monitor in self.client.session.monitors()])

    def monitors_configs(self) -> list[m.MonitorsConfig]:
        """The MONITORS_CONFIG messages the server sent so far."""
        return [decode(m.MonitorsConfig, r.body) for r in recorded_display(self.recording)
                if r.msg_type == m.MonitorsConfig.spec.number]


@pytest.fixture(scope="module")
def two_heads(desktop_guest: desktop.DesktopGuest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHeads]:
    """The guest booted with two QXL outputs and NumHeads 2, the client connected, scene 0
    shown on the first head only."""
    recording = tmp_path_factory.mktemp("multimonitor") / "display.rec"
    with QemuServer(VGA_DEVICES["qxl-2heads"] + desktop_guest.qemu_args(heads=2),
                    serial=True, memory=512, spice="disable-ticketing=on") as qemu:
        assert qemu.serial_path is not None
        started = time.monotonic()
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri()), record=recording) as client:
            ready = serial.wait_for(desktop.READY, 180)
            log.info("%s after %.1f s", ready, time.monotonic() - started)
            yield TwoHeads(qemu, serial, client, recording)


def test_one_head_until_the_second_is_switched_on(two_heads: TwoHeads) -> None:
    shown = assert_shows_guest_screen(two_heads.client, two_heads.qemu, _SCREEN_TIMEOUT,
                                      device=_DEVICE)
    assert shown.shape == (desktop.HEIGHT, desktop.WIDTH, 3)
    assert two_heads.monitor_areas() == [_HEADS[0]]


def test_two_heads_show_as_two_monitors(two_heads: TwoHeads) -> None:
    two_heads.command("heads 2")
    deadline = time.monotonic() + _SCREEN_TIMEOUT
    while len(areas := two_heads.monitor_areas()) < 2:
        assert time.monotonic() < deadline, f"the client shows monitors {areas} only"
        time.sleep(0.1)
    configs = two_heads.monitors_configs()
    log.info("MONITORS_CONFIG messages: %s", configs)
    assert areas == list(_HEADS)
    for index, area in enumerate(_HEADS):
        shown = assert_shows_guest_screen(two_heads.client, two_heads.qemu, _SCREEN_TIMEOUT,
                                          monitor=index, device=_DEVICE, head=0, area=area)
        assert shown.shape == (desktop.HEIGHT, desktop.WIDTH, 3)
    # The heads differ (a client showing one head twice would fail above), and the whole
    # screen is the two side by side.
    whole = two_heads.qemu.screendump(_DEVICE)
    assert whole.shape == (desktop.HEIGHT, 2 * desktop.WIDTH, 3)
    left = whole[:, : desktop.WIDTH]
    right = whole[:, desktop.WIDTH :]
    assert (left != right).any(axis=2).sum() > desktop.WIDTH * desktop.HEIGHT // 2
