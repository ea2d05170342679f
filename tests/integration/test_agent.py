"""The guest agent (spice-vdagent in the desktop guest): the client asks for a screen
size, and the guest's desktop takes it (dynamic resolution)."""

from __future__ import annotations

import time
from functools import partial

from spicebox.config.target import parse_uri
from spicebox.spice.agent import AgentCap
from tests.guests import console, desktop
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer


def test_the_guest_takes_the_resolution_the_client_asks_for(
        desktop_guest: desktop.DesktopGuest) -> None:
    with QemuServer(VGA_DEVICES["qxl"] + desktop_guest.qemu_args(agent=True), serial=True,
                    memory=512) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri())) as client:
            serial.wait_for(desktop.READY, 180)
            deadline = time.monotonic() + 60
            while AgentCap.MONITORS_CONFIG not in client.session.agent.caps:
                assert time.monotonic() < deadline, (
                    f"no agent that can resize: {desktop.command(serial, 'agent')}")
                time.sleep(0.2)
            for width, height in ((1280, 800), (1024, 768)):
                client.in_loop(partial(client.session.set_resolution, [(width, height)]))
                deadline = time.monotonic() + 60
                while True:
                    shown = assert_shows_guest_screen(client, qemu, 60)
                    if shown.shape == (height, width, 3):
                        break
                    assert time.monotonic() < deadline, f"still {shown.shape}"
                    time.sleep(0.5)
