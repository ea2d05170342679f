"""The desktop guest: Xorg's QXL driver drawing through spice-server into the real client.

One guest is booted for the whole module (booting X under TCG is most of the cost) and
each test drives it further over the serial console, then compares the client's screen
with QEMU's screendump pixel for pixel. The reference is always the screendump, so each
test stands on its own whatever state the previous ones left.

xf86-video-qxl emits four draw commands and nothing else: DRAW_FILL, DRAW_COPY (from
bitmaps, its image cache and off-screen surfaces), COPY_BITS and DRAW_COMPOSITE, plus
surfaces and, from spice-server, video streams. STROKE, TEXT, OPAQUE, ROP3, BLEND and
the rest come from other guest drivers (Windows' qxl-wddm), never from this guest.

Measured on the 2-core build machine (QEMU 7.2 TCG, Debian 12 host, load ~2 from other
work; the guest boots with -smp 2):
- cold build: 104 s (the mmdebstrap tree 75-97 s, downloads included; then 7-30 s to
  add the scripts and pack the ext4 image). A script change rebuilds only the image.
- boot to READY (QEMU start to scene 0 on screen): 5-11 s, usually 8-10 s; the kernel
  reaches /sbin/spicebox-desktop at 3-5 s of uptime, X and Python share the rest. With
  the compressed bzImage it was 17-19 s (see desktop._bootable_kernel).
- this module with a warm cache: 23-37 s; cold, ~2 min 15 s.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spicebox.config.target import parse_uri
from spicebox.spice import messages as m
from spicebox.spice.constants import ImageType, SurfaceFormat
from spicebox.spice.wire import SERVER, decode, lookup
from tests.guests import console, desktop
from tests.rig.client import ClientThread, assert_shows_guest_screen, recorded_display
from tests.rig.qemu import VGA_DEVICES, QemuServer

log = logging.getLogger(__name__)

# Display messages the client has no decoder for, by their spice.proto numbers: the
# channel drops them ("skipping unknown message type"), so only the recording sees them.
_UNDECODED = {320: "GlScanoutUnix", 321: "GlDraw"}
# Long enough for the server to end a stream and resend its area losslessly; short
# enough that a real mismatch fails the module well within its budget.
_SCREEN_TIMEOUT = 30.0


@dataclass
class Desktop:
    qemu: QemuServer
    serial: console.SerialConsole
    client: ClientThread
    recording: Path

    def command(self, command: str, timeout: float = 30.0) -> str:
        return desktop.command(self.serial, command, timeout)

    def received(self) -> Counter[str]:
        """Display messages the server sent so far (the recording holds those the
        client cannot decode too), by message class name."""
        counts: Counter[str] = Counter()
        for record in recorded_display(self.recording):
            spec = lookup(SERVER, record.channel_type, record.msg_type)
            counts[spec.cls.__name__ if spec is not None else
                   _UNDECODED.get(record.msg_type, f"type {record.msg_type}")] += 1
        return counts

    def surface_formats(self) -> Counter[str]:
        """The pixel formats of the surfaces the server created so far."""
        created = (decode(m.SurfaceCreate, r.body) for r in recorded_display(self.recording)
                   if r.msg_type == m.SurfaceCreate.spec.number)
        return Counter(SurfaceFormat(s.format).name for s in created)


@pytest.fixture(scope="module")
def desk(desktop_guest: desktop.DesktopGuest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    """The guest booted under QEMU with -vga qxl, the client connected, scene 0 shown."""
    recording = tmp_path_factory.mktemp("desktop") / "display.rec"
    # streaming-video=all: QEMU's default is off, and the animation should be a stream.
    with QemuServer(VGA_DEVICES["qxl"] + desktop_guest.qemu_args(), serial=True, memory=512,
                    spice="disable-ticketing=on,streaming-video=all") as qemu:
        assert qemu.serial_path is not None
        started = time.monotonic()
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri()), record=recording) as client:
            ready = serial.wait_for(desktop.READY, 180)
            log.info("%s after %.1f s", ready, time.monotonic() - started)
            booted = Desktop(qemu, serial, client, recording)
            yield booted
    log.info("display messages: %s; surfaces made: %s", sorted(booted.received().items()),
             sorted(booted.surface_formats().items()))


def test_first_scene(desk: Desktop) -> None:
    shown = assert_shows_guest_screen(desk.client, desk.qemu, _SCREEN_TIMEOUT)
    assert shown.shape == (desktop.HEIGHT, desktop.WIDTH, 3)


def test_text(desk: Desktop) -> None:
    desk.command("text 60")  # past the panel's 41 rows: it scrolls line by line
    assert_shows_guest_screen(desk.client, desk.qemu, _SCREEN_TIMEOUT)


def test_scroll(desk: Desktop) -> None:
    copies = desk.client.session.canvas.messages[m.CopyBits]
    desk.command("scroll 7")
    desk.command("text 3")
    assert_shows_guest_screen(desk.client, desk.qemu, _SCREEN_TIMEOUT)
    # X scrolled the panel by copying it within the screen, and the server passed that on.
    assert desk.client.session.canvas.messages[m.CopyBits] > copies


def test_render(desk: Desktop) -> None:
    composites = desk.client.session.canvas.messages[m.DrawComposite]
    desk.command("render")
    assert_shows_guest_screen(desk.client, desk.qemu, _SCREEN_TIMEOUT)
    # The client announces COMPOSITE (and A8_SURFACE), so the driver hands RENDER drawing
    # to the client instead of drawing it in software and sending images of the result.
    # (Before the canvas drew DRAW_COMPOSITE, 22264 pixels of the render box differed.)
    assert desk.client.session.canvas.messages[m.DrawComposite] > composites


def test_animation_streams_then_ends_lossless(desk: Desktop) -> None:
    canvas = desk.client.session.canvas
    desk.command("animate start")
    deadline = time.monotonic() + 60
    while canvas.stream_frames < 20:
        assert time.monotonic() < deadline, \
            f"no video stream after 60 s of animation: {sorted(desk.received().items())}"
        time.sleep(0.2)
    desk.command("animate stop")
    # Once the box holds still the server ends the stream and resends the area losslessly.
    assert_shows_guest_screen(desk.client, desk.qemu, _SCREEN_TIMEOUT)


def test_the_qxl_driver_draws_with_spice_operations(desk: Desktop) -> None:
    """What makes this guest worth booting: X pixmaps in off-screen surfaces, fills,
    copies and compositing as operations, not just images of a framebuffer."""
    desk.command("scene 0")
    assert_shows_guest_screen(desk.client, desk.qemu, _SCREEN_TIMEOUT)
    canvas = desk.client.session.canvas
    surfaces = desk.client.in_loop(lambda: sorted(canvas.surfaces))
    received = desk.received()
    images = sorted((ImageType(t).name, n) for t, n in canvas.image_types.items())
    log.info("surfaces now %s; display messages so far %s; image types %s", surfaces,
             sorted(received.items()), images)
    assert any(surface_id != 0 for surface_id in surfaces), (surfaces, received)
    for kind in (m.DrawFill, m.DrawCopy, m.CopyBits, m.SurfaceCreate, m.StreamCreate,
                 m.DrawComposite):
        assert canvas.messages[kind] > 0, (kind.__name__, received)
    # The render step's mask is an 8-bit alpha pixmap: an A8 surface on the client.
    formats = desk.surface_formats()
    assert formats["A8"] > 0, formats


def test_the_guest_changes_resolution(desk: Desktop) -> None:
    # The server replaces the primary surface; everything after draws on the new one.
    desk.command("mode 1920x1080")
    shown = assert_shows_guest_screen(desk.client, desk.qemu, _SCREEN_TIMEOUT)
    assert shown.shape == (1080, 1920, 3)
    desk.command("text 5")
    desk.command(f"mode {desktop.WIDTH}x{desktop.HEIGHT}")
    shown = assert_shows_guest_screen(desk.client, desk.qemu, _SCREEN_TIMEOUT)
    assert shown.shape == (desktop.HEIGHT, desktop.WIDTH, 3)
