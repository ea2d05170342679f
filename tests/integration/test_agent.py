"""The guest agent (spice-vdagent in the desktop guest): the client asks for a screen
size, or the user resizes its window, and the guest's desktop takes that size (dynamic
resolution); text copied on either side can be pasted on the other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial

import pytest
from Xlib import display as xdisplay

from spicebox.config.target import parse_uri
from spicebox.display.sdl import SdlPresenter
from spicebox.spice.agent import AgentCap, ClipboardType
from tests.guests import console, desktop
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer
from tests.rig.xvfb import window_named, xvfb

Booted = tuple[QemuServer, console.SerialConsole, ClientThread]


@pytest.fixture(scope="module")
def agent_desktop(desktop_guest: desktop.DesktopGuest) -> Iterator[Booted]:
    with QemuServer(VGA_DEVICES["qxl"] + desktop_guest.qemu_args(agent=True), serial=True,
                    memory=512) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri())) as client:
            serial.wait_for(desktop.READY, 180)
            deadline = time.monotonic() + 60
            while not {AgentCap.MONITORS_CONFIG, AgentCap.CLIPBOARD_BY_DEMAND} <= \
                    client.session.agent.caps:
                assert time.monotonic() < deadline, (
                    f"no agent that can resize: {desktop.command(serial, 'agent')}")
                time.sleep(0.2)
            yield qemu, serial, client


def test_the_guest_takes_the_resolution_the_client_asks_for(
        agent_desktop: Booted) -> None:
    qemu, _, client = agent_desktop
    for width, height in ((1280, 800), (1024, 768)):
        client.in_loop(partial(client.session.set_resolution, [(width, height)]))
        deadline = time.monotonic() + 60
        while True:
            shown = assert_shows_guest_screen(client, qemu, 60)
            if shown.shape == (height, width, 3):
                break
            assert time.monotonic() < deadline, f"still {shown.shape}"
            time.sleep(0.5)


def test_text_copied_in_the_guest_arrives(
        agent_desktop: Booted) -> None:
    _, serial, client = agent_desktop
    desktop.command(serial, "copy copied in the guest: \u00e9t\u00e9")
    deadline = time.monotonic() + 30
    while True:
        got = client.session.clipboard
        if got is not None and got.data == "copied in the guest: \u00e9t\u00e9".encode():
            break
        assert time.monotonic() < deadline, f"clipboard: {got}"
        time.sleep(0.2)
    assert got.type == ClipboardType.UTF8_TEXT


def test_text_copied_here_can_be_pasted_in_the_guest(
        agent_desktop: Booted) -> None:
    _, serial, client = agent_desktop
    assert client.in_loop(partial(client.session.copy_to_guest, "from spicebox"))
    # The agent takes X's clipboard over when the client's grab reaches it: until then a
    # paste still gets the guest's own last copy.
    deadline = time.monotonic() + 30
    while not (reply := desktop.command(serial, "paste", 60)).endswith("paste from spicebox"):
        assert time.monotonic() < deadline, reply
        time.sleep(0.5)


def test_resizing_the_window_resizes_the_guest(desktop_guest: desktop.DesktopGuest,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with xvfb("2560x1600x24") as display:
        monkeypatch.setenv("DISPLAY", display)
        with QemuServer(VGA_DEVICES["qxl"] + desktop_guest.qemu_args(agent=True),
                        serial=True, memory=512) as qemu:
            assert qemu.serial_path is not None
            with console.SerialConsole(qemu.serial_path) as serial, \
                    ClientThread(parse_uri(qemu.uri()),
                                 presenter=lambda: SdlPresenter("x11", "resize")) as client:
                serial.wait_for(desktop.READY, 180)
                deadline = time.monotonic() + 60
                while AgentCap.MONITORS_CONFIG not in client.session.agent.caps:
                    assert time.monotonic() < deadline, "no agent that can resize"
                    time.sleep(0.2)
                assert_shows_guest_screen(client, qemu, 60)
                x = xdisplay.Display(display)
                try:
                    # As a window manager does when the user drags the window's corner.
                    window_named(x, "resize").configure(width=1152, height=864)
                    x.sync()
                finally:
                    x.close()
                deadline = time.monotonic() + 60
                while (shape := assert_shows_guest_screen(client, qemu, 60).shape) \
                        != (864, 1152, 3):
                    assert time.monotonic() < deadline, f"the guest stayed {shape}"
                    time.sleep(0.5)
