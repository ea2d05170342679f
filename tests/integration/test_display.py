"""The client shows exactly what the guest shows: screenshot == QMP screendump."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from spicebox.config.target import parse_uri
from spicebox.spice.constants import ImageCompression, ImageType
from spicebox.spice.policy import DecodingPolicy
from tests.guests import console
from tests.rig.client import ClientThread, assert_shows_guest_screen
from tests.rig.qemu import VGA_DEVICES, QemuServer


@pytest.mark.parametrize("vga", ["std", "qxl"])
def test_bios_screen(vga: str) -> None:
    with QemuServer(VGA_DEVICES[vga]) as qemu, ClientThread(parse_uri(qemu.uri())) as client:
        assert_shows_guest_screen(client, qemu)


def _guest_image(guest: console.ConsoleGuest, index: int) -> np.ndarray:
    return np.frombuffer(guest.image_rgb(index), np.uint8).reshape(console.HEIGHT,
                                                                    console.WIDTH, 3)


@pytest.mark.parametrize("vga", ["std", "qxl", "virtio"])
def test_console_guest_framebuffer(console_guest: console.ConsoleGuest, vga: str) -> None:
    with QemuServer(VGA_DEVICES[vga] + console_guest.qemu_args(), serial=True) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri())) as client:
            serial.wait_for(console.READY, 120)
            shown = assert_shows_guest_screen(client, qemu)
            assert np.array_equal(shown, _guest_image(console_guest, 0))
            serial.send("show 1")
            serial.wait_for(console.SHOWN, 60)
            shown = assert_shows_guest_screen(client, qemu)
            assert np.array_equal(shown, _guest_image(console_guest, 1))


@pytest.mark.parametrize(("server", "preferred", "expected"), [
    # The client's preference wins over the server's setting...
    ("auto_glz", ImageCompression.LZ4, {ImageType.LZ4}),
    ("auto_glz", ImageCompression.OFF, {ImageType.BITMAP}),
    # ...and every codec a server may be set to, or asked for, decodes exactly.
    ("off", ImageCompression.OFF, {ImageType.BITMAP}),
    ("quic", ImageCompression.QUIC, {ImageType.QUIC}),
    ("lz", ImageCompression.LZ, {ImageType.LZ_RGB}),
    ("glz", ImageCompression.GLZ, {ImageType.GLZ_RGB}),
    ("auto_lz", ImageCompression.AUTO_LZ, {ImageType.QUIC, ImageType.LZ_RGB}),
    ("auto_glz", ImageCompression.AUTO_GLZ, {ImageType.QUIC, ImageType.GLZ_RGB}),
    # (zlib is skipped for the images it would not shrink)
    ("glz,zlib-glz-wan-compression=always", ImageCompression.GLZ,
     {ImageType.ZLIB_GLZ_RGB, ImageType.GLZ_RGB}),
])
def test_every_image_compression_shows_the_guest_exactly(
        console_guest: console.ConsoleGuest, server: str, preferred: ImageCompression,
        expected: set[ImageType]) -> None:
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args(), serial=True,
                    spice=f"disable-ticketing=on,image-compression={server}") as qemu:
        assert qemu.serial_path is not None
        policy = DecodingPolicy.for_device(preferred)
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri()), policy=policy) as client:
            serial.wait_for(console.READY, 120)
            assert_shows_guest_screen(client, qemu)
            # Back and forth, so GLZ refers to images it decoded before.
            for image in (1, 0):
                serial.send(f"show {image}")
                serial.wait_for(console.SHOWN, 60)
                assert_shows_guest_screen(client, qemu)
            types = client.session.canvas.image_types
            # Small rectangles (under 54 bytes, or thinner than QUIC's 3 pixels) go raw.
            assert expected & set(types), types
            assert set(types) <= expected | {ImageType.BITMAP, ImageType.LZ_RGB}, types


def animate_until(serial: console.SerialConsole, done: Callable[[], bool]) -> int:
    """Flip images 0 and 2 (they differ only in VIDEO_BOX) at up to ~15 fps, which is what
    the server's video detection looks for, until ``done()``; return the last image."""
    deadline = time.monotonic() + 90
    image = 0
    while not done():
        assert time.monotonic() < deadline, "the server never streamed the flipping box"
        for _ in range(10):
            image = 2 - image
            serial.send(f"show {image}")
            serial.wait_for(console.SHOWN, 30)
            time.sleep(0.03)
    return image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_mjpeg_video_streams_play(console_guest: console.ConsoleGuest) -> None:
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args(), serial=True,
                    spice="disable-ticketing=on,streaming-video=all") as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri())) as client:
            serial.wait_for(console.READY, 120)
            canvas = client.session.canvas
            display = client.session.display_channels[0]
            # The server asks for reports on how playback keeps up, and gets them.
            animate_until(serial, lambda: canvas.stream_frames >= 30
                          and display.stream_reports_sent > 0)
            # Mid-stream: the box shows a JPEG frame of one of the two images, the rest of
            # the screen is untouched.
            shown = client.snapshot()
            assert shown is not None
            box = console.VIDEO_BOX
            outside = np.ones(shown.shape[:2], bool)
            outside[box] = False
            assert np.array_equal(shown[outside], _guest_image(console_guest, 0)[outside])
            quality = max(psnr(shown[box], _guest_image(console_guest, i)[box]) for i in (0, 2))
            assert quality > 25, f"video frame PSNR {quality:.1f} dB"
            last = animate_until(serial, lambda: True)
            # When the stream ends the server resends the region losslessly.
            shown = assert_shows_guest_screen(client, qemu)
            assert np.array_equal(shown, _guest_image(console_guest, last))


def test_video_streams_are_turned_back_into_images(console_guest: console.ConsoleGuest) -> None:
    """With video refused by the policy, the client refuses each stream the way
    spice-server documents, and the server goes back to sending the region as images."""
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args(), serial=True,
                    spice="disable-ticketing=on,streaming-video=all") as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri()),
                             policy=DecodingPolicy(video_codecs=frozenset())) as client:
            serial.wait_for(console.READY, 120)
            image = animate_until(serial, lambda: "the client does not support stream"
                                  in qemu.log_path.read_text())
            assert client.session.canvas.stream_frames == 0
            shown = assert_shows_guest_screen(client, qemu)
            assert np.array_equal(shown, _guest_image(console_guest, image))


def test_jpeg_images_when_the_server_may_be_lossy(console_guest: console.ConsoleGuest) -> None:
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args(), serial=True,
                    spice="disable-ticketing=on,image-compression=quic,"
                          "jpeg-wan-compression=always") as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri()),
                             policy=DecodingPolicy.for_device(ImageCompression.QUIC)) as client:
            serial.wait_for(console.READY, 120)
            # The top half (bars, ramps, gradients) survives JPEG well; the bottom half's
            # single-pixel checkers and zone plates are what JPEG cannot keep (about
            # 12 dB), so they are not judged.
            smooth = slice(0, 512)
            expected = _guest_image(console_guest, 0)[smooth]
            deadline = time.monotonic() + 60
            quality = 0.0
            while quality < 30 and time.monotonic() < deadline:
                time.sleep(0.2)
                shown = client.snapshot()
                quality = psnr(shown[smooth], expected) if shown is not None else 0.0
            assert quality >= 30, f"PSNR {quality:.1f} dB on the smooth half"
            assert client.session.canvas.image_types[ImageType.JPEG] > 0


def test_each_display_channel_is_a_monitor() -> None:
    # Two display devices: the server offers a display channel for each, as for a
    # multi-head Windows guest, and the client shows them as monitors 0 and 1.
    with QemuServer(VGA_DEVICES["std"] + ["-device", "secondary-vga,id=second"]) as qemu, \
            ClientThread(parse_uri(qemu.uri())) as client:
        assert_shows_guest_screen(client, qemu)
        second = assert_shows_guest_screen(client, qemu, monitor=1, device="second")
        assert second.shape[:2] == (480, 640)
