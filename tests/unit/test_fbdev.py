"""The fbdev presenter against a file laid out like /dev/fb0, with a sysfs-like folder."""

from __future__ import annotations

import fcntl
import struct
from pathlib import Path

import numpy as np
import pytest

from spicebox.canvas.monitors import Monitor
from spicebox.canvas.surface import Box, Surface
from spicebox.codecs.cursor import CursorShape
from spicebox.display import fbdev
from spicebox.display.fbdev import LAYOUTS, FbdevPresenter
from spicebox.display.sdl import DisplayUnavailable


def framebuffer(tmp_path: Path, bpp: int, width: int = 6, height: int = 4,
                stride: int = 32) -> tuple[Path, Path]:
    sysfs = tmp_path / "fb0"
    sysfs.mkdir()
    (sysfs / "virtual_size").write_text(f"{width},{height}\n")
    (sysfs / "bits_per_pixel").write_text(f"{bpp}\n")
    (sysfs / "stride").write_text(f"{stride}\n")
    device = tmp_path / "dev-fb0"
    device.write_bytes(b"\xee" * stride * height)
    return device, sysfs


def surface() -> Surface:
    s = Surface(0, 6, 4, 32, primary=True)
    s.pixels[:] = np.arange(24, dtype=np.uint32).reshape(4, 6) * 0x010203
    return s


def test_32bpp_copies_only_the_damage(tmp_path: Path) -> None:
    device, sysfs = framebuffer(tmp_path, 32)
    presenter = FbdevPresenter(device, sysfs)
    src = surface()
    presenter.present([Monitor(src, src.bounds)], [[Box(1, 1, 3, 3)]])
    presenter.close()
    fb = np.frombuffer(device.read_bytes(), np.uint8).reshape(4, 32)[:, :24].view("<u4")
    np.testing.assert_array_equal(fb[1:3, 1:3], src.pixels[1:3, 1:3])
    assert (fb[0] == 0xEEEEEEEE).all() and (fb[:, 0] == 0xEEEEEEEE).all()


def test_16bpp_converts_to_rgb565(tmp_path: Path) -> None:
    device, sysfs = framebuffer(tmp_path, 16, stride=12)
    presenter = FbdevPresenter(device, sysfs)
    src = Surface(0, 6, 4, 32, primary=True)
    src.pixels[:] = 0x00FF8040
    presenter.present([Monitor(src, src.bounds)], [[src.bounds]])
    presenter.close()
    fb = np.frombuffer(device.read_bytes(), "<u2")
    assert (fb == (0x1F << 11 | 0x20 << 5 | 0x08)).all()


def test_unsupported_depth_is_a_clear_error(tmp_path: Path) -> None:
    device, sysfs = framebuffer(tmp_path, 24)
    with pytest.raises(DisplayUnavailable, match="24 bpp"):
        FbdevPresenter(device, sysfs)


def test_missing_framebuffer(tmp_path: Path) -> None:
    with pytest.raises(DisplayUnavailable, match="cannot use framebuffer"):
        FbdevPresenter(tmp_path / "nope", tmp_path / "nope-sysfs")


def test_xbgr_swaps_red_and_blue() -> None:
    convert = LAYOUTS[(32, (0, 8, 8, 8, 16, 8))]
    assert convert(np.array([0x00112233], np.uint32)).tolist() == [0x00332211]


def read_fb(device: Path) -> np.ndarray:
    return np.frombuffer(device.read_bytes(), np.uint8).reshape(4, 32)[:, :24].view("<u4")


def test_the_guest_pointer_is_drawn_over_the_frame_and_leaves_no_trail(
        tmp_path: Path) -> None:
    device, sysfs = framebuffer(tmp_path, 32)
    presenter = FbdevPresenter(device, sysfs)
    src = surface()
    presenter.present([Monitor(src, src.bounds)], [[src.bounds]])
    # Opaque red, half-transparent white, and two clear pixels; hot spot at the second.
    shape = CursorShape(np.array([[0xFFFF0000, 0x80FFFFFF], [0, 0]], np.uint32), 1, 0)
    presenter.set_cursor(shape, True)
    presenter.move_pointer(3, 1)
    fb = read_fb(device)
    assert fb[1, 2] & 0xFFFFFF == 0xFF0000
    under = int(src.pixels[1, 3])
    blended = [((0xFF * 0x80 + ((under >> s) & 0xFF) * 0x7F + 127) // 255) << s
               for s in (0, 8, 16)]
    assert fb[1, 3] & 0xFFFFFF == sum(blended)
    assert fb[2, 2] == src.pixels[2, 2]  # clear: the frame shows through
    # A frame update under the pointer keeps it on top.
    src.pixels[1, 2] = 0x123456
    presenter.present([Monitor(src, src.bounds)], [[Box(0, 0, 6, 4)]])
    assert read_fb(device)[1, 2] & 0xFFFFFF == 0xFF0000
    # Moving and hiding restore what is underneath.
    presenter.move_pointer(5, 3)
    fb = read_fb(device)
    np.testing.assert_array_equal(fb[1, 2:4], src.pixels[1, 2:4])
    assert fb[3, 4] & 0xFFFFFF == 0xFF0000
    presenter.set_cursor(None, False)
    np.testing.assert_array_equal(read_fb(device)[:, :6], src.pixels)
    presenter.close()


def test_the_guest_is_asked_for_the_framebuffer_size(tmp_path: Path) -> None:
    device, sysfs = framebuffer(tmp_path, 32)
    presenter = FbdevPresenter(device, sysfs)
    assert presenter.output_sizes() == [(6, 4)]
    presenter.close()


@pytest.mark.parametrize(("fields", "converter"), [
    ((16, 8, 8, 8, 0, 8), "_xrgb"), ((0, 8, 8, 8, 16, 8), "_xbgr"),
    ((11, 5, 5, 6, 0, 5), "_rgb565")])
def test_the_drivers_pixel_layout_is_read_from_its_screen_info(
        monkeypatch: pytest.MonkeyPatch, fields: tuple[int, ...], converter: str) -> None:
    """FBIOGET_VSCREENINFO as a driver fills it: eight u32, then red, green and blue
    as {offset, length, msb_right} (a real virtio-gpu framebuffer found this)."""
    def ioctl(fd: int, request: int, info: bytearray) -> int:
        assert request == fbdev.FBIOGET_VSCREENINFO
        r_off, r_len, g_off, g_len, b_off, b_len = fields
        struct.pack_into("<8I9I", info, 0, 1280, 800, 1280, 800, 0, 0, 32, 0,
                         r_off, r_len, 0, g_off, g_len, 0, b_off, b_len, 0)
        return 0
    monkeypatch.setattr(fcntl, "ioctl", ioctl)
    bpp = 16 if converter == "_rgb565" else 32
    layout = fbdev._driver_layout(0, bpp)
    assert LAYOUTS[layout].__name__ == converter
