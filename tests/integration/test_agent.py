"""The guest agent (spice-vdagent in the desktop guest): the client asks for a screen
size, or the user resizes its window, and the guest's desktop takes that size (dynamic
resolution); text and images copied on either side can be pasted on the other (the
client's side is its x11 window's X clipboard, where xclip stands for other windows)."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from functools import partial

import pygame
import pytest
from Xlib import display as xdisplay

from spicebox.config.target import parse_uri
from spicebox.display.sdl import SdlPresenter
from spicebox.spice.agent import AgentCap, ClipboardType
from tests.guests import console, desktop
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer
from tests.rig.xvfb import copy_elsewhere, paste_elsewhere, window_named, xvfb

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Booted = tuple[QemuServer, console.SerialConsole, ClientThread, str]


@pytest.fixture(scope="module")
def agent_desktop(desktop_guest: desktop.DesktopGuest) -> Iterator[Booted]:
    with xvfb() as display, pytest.MonkeyPatch.context() as env:
        env.setenv("DISPLAY", display)
        with QemuServer(VGA_DEVICES["qxl"] + desktop_guest.qemu_args(agent=True),
                        serial=True, memory=512) as qemu:
            assert qemu.serial_path is not None
            with console.SerialConsole(qemu.serial_path) as serial, \
                    ClientThread(parse_uri(qemu.uri()),
                                 presenter=lambda: SdlPresenter("x11", "agent")) as client:
                serial.wait_for(desktop.READY, 180)
                deadline = time.monotonic() + 60
                while not {AgentCap.MONITORS_CONFIG, AgentCap.CLIPBOARD_BY_DEMAND} <= \
                        client.session.agent.caps:
                    assert time.monotonic() < deadline, (
                        f"no agent that can resize: {desktop.command(serial, 'agent')}")
                    time.sleep(0.2)
                yield qemu, serial, client, display


def png(width: int, height: int, seed: int) -> bytes:
    """A small image with distinct pixels, as PNG."""
    picture = pygame.Surface((width, height))
    for y in range(height):
        for x in range(width):
            picture.set_at((x, y), ((x * 37 + seed) % 256, (y * 59 + seed) % 256,
                                    (x * y + seed) % 256))
    out = io.BytesIO()
    pygame.image.save(picture, out, "image.png")
    return out.getvalue()


def pixels(image: bytes) -> tuple[tuple[int, int], bytes]:
    """A PNG's size and RGB pixels: what survives a re-encoding on the way."""
    picture = pygame.image.load(io.BytesIO(image), "image.png")
    return picture.get_size(), pygame.image.tobytes(picture, "RGB")


def test_the_guest_takes_the_resolution_the_client_asks_for(
        agent_desktop: Booted) -> None:
    qemu, _, client, _ = agent_desktop
    for width, height in ((1280, 800), (1024, 768)):
        client.in_loop(partial(client.session.set_resolution, [(width, height)]))
        deadline = time.monotonic() + 60
        while True:
            shown = assert_shows_guest_screen(client, qemu, 60)
            if shown.shape == (height, width, 3):
                break
            assert time.monotonic() < deadline, f"still {shown.shape}"
            time.sleep(0.5)


def test_text_copied_in_the_guest_arrives(agent_desktop: Booted) -> None:
    _, serial, client, display = agent_desktop
    desktop.command(serial, "copy copied in the guest: \u00e9t\u00e9")
    deadline = time.monotonic() + 30
    while paste_elsewhere(display) != "copied in the guest: \u00e9t\u00e9".encode():
        assert time.monotonic() < deadline, f"clipboard: {client.session.clipboard}"
        time.sleep(0.2)
    got = client.session.clipboard
    assert got is not None and got.type == ClipboardType.UTF8_TEXT


def test_text_copied_here_can_be_pasted_in_the_guest(agent_desktop: Booted) -> None:
    _, serial, _, display = agent_desktop
    copy_elsewhere(display, b"from another window")
    # The agent takes X's clipboard over when the client's grab reaches it: until then a
    # paste still gets the guest's own last copy.
    deadline = time.monotonic() + 30
    while not (reply := desktop.command(serial, "paste", 60)).endswith(
            "paste from another window"):
        assert time.monotonic() < deadline, reply
        time.sleep(0.5)


def test_an_image_copied_in_the_guest_arrives(agent_desktop: Booted) -> None:
    _, serial, client, display = agent_desktop
    image = png(24, 16, 1)
    desktop.command(serial, f"copy-image {base64.b64encode(image).decode()}")
    deadline = time.monotonic() + 30
    # The agent hands it on through GTK, which may encode it afresh: pixels must match.
    # Until the client has it, the last owner (an xclip holding text) may answer.
    while not (pasted := paste_elsewhere(display, "image/png") or b"").startswith(
            PNG_SIGNATURE) or pixels(pasted) != pixels(image):
        assert time.monotonic() < deadline, (
            f"clipboard: {client.session.clipboard}\n{desktop.agent_log(serial)}")
        time.sleep(0.5)


def test_an_image_copied_here_can_be_pasted_in_the_guest(agent_desktop: Booted) -> None:
    _, serial, _, display = agent_desktop
    image = png(20, 12, 2)
    copy_elsewhere(display, image, "image/png")
    deadline = time.monotonic() + 30
    while True:
        reply = desktop.command(serial, "paste-image", 60).split()[-1]
        if reply != "NONE" and pixels(base64.b64decode(reply)) == pixels(image):
            break
        assert time.monotonic() < deadline, f"{reply[:200]}\n{desktop.agent_log(serial)}"
        time.sleep(0.5)


def test_resizing_the_window_resizes_the_guest(agent_desktop: Booted) -> None:
    qemu, _, client, display = agent_desktop
    assert_shows_guest_screen(client, qemu, 60)
    x = xdisplay.Display(display)
    try:
        # As a window manager does when the user drags the window's corner.
        window_named(x, "agent").configure(width=1152, height=864)
        x.sync()
    finally:
        x.close()
    deadline = time.monotonic() + 60
    while (shape := assert_shows_guest_screen(client, qemu, 60).shape) != (864, 1152, 3):
        assert time.monotonic() < deadline, f"the guest stayed {shape}"
        time.sleep(0.5)
