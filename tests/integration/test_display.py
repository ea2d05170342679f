"""The client shows exactly what the guest shows: screenshot == QMP screendump."""

from __future__ import annotations

import time

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


@pytest.mark.parametrize(("preferred", "expected"), [(ImageCompression.LZ4, ImageType.LZ4),
                                                     (ImageCompression.OFF, ImageType.BITMAP),
                                                     (ImageCompression.LZ, ImageType.LZ_RGB)])
def test_server_follows_decoding_policy(console_guest: console.ConsoleGuest,
                                        preferred: ImageCompression, expected: ImageType) -> None:
    # The server's default would be QUIC/GLZ; the client's preference must win.
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args(), serial=True,
                    spice="disable-ticketing=on,image-compression=auto_glz") as qemu:
        assert qemu.serial_path is not None
        policy = DecodingPolicy(image_compression=preferred)
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri()), policy=policy) as client:
            serial.wait_for(console.READY, 120)
            assert_shows_guest_screen(client, qemu)
            types = client.session.canvas.image_types
            assert types[expected] > 0, types
            assert set(types) <= {expected, ImageType.BITMAP}, types


def test_video_streams_are_turned_back_into_images(console_guest: console.ConsoleGuest) -> None:
    """Without a video decoder the client refuses each stream the way spice-server
    documents, and the server goes back to sending the region as images."""
    with QemuServer(VGA_DEVICES["std"] + console_guest.qemu_args(), serial=True,
                    spice="disable-ticketing=on,streaming-video=all") as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial, \
                ClientThread(parse_uri(qemu.uri())) as client:
            serial.wait_for(console.READY, 120)
            # Only VIDEO_BOX differs between images 0 and 2: flipping them at up to ~15 fps
            # is what the server's video detection looks for. How soon it triggers depends
            # on the machine's speed, so flip until the server reports our refusal.
            deadline = time.monotonic() + 90
            refused, image = False, 0
            while not refused and time.monotonic() < deadline:
                for _ in range(20):
                    image = 2 - image
                    serial.send(f"show {image}")
                    serial.wait_for(console.SHOWN, 30)
                    time.sleep(0.03)
                refused = "the client does not support stream" in qemu.log_path.read_text()
            assert refused, "the server never streamed, or never took the refusal"
            shown = assert_shows_guest_screen(client, qemu)
            assert np.array_equal(shown, _guest_image(console_guest, image))
