"""Direct framebuffer presenter for boards without KMS: mmap /dev/fbN and copy damage in.

SDL 2 dropped its fbdev driver, so this is ours. The pixel layout comes from the driver
(FBIOGET_VSCREENINFO): XRGB8888 takes the canvas rows as they are, XBGR8888 (some
firmware) swaps red and blue, RGB565 (small SPI panels) is converted per box.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..canvas.composite import div255
from ..canvas.monitors import Monitor
from ..canvas.surface import Box
from ..codecs.cursor import CursorShape
from ..codecs.pixels import Pixels
from ..input.events import InputEvent
from .sdl import DisplayUnavailable

FBIOGET_VSCREENINFO = 0x4600
_VSCREENINFO_SIZE = 160
# struct fb_var_screeninfo: 8 u32, then red, green, blue as {offset, length, msb_right}.
_RGB_FIELDS = struct.Struct("<II4xII4xII")

Converter = Callable[[Pixels], npt.NDArray[np.uint32] | npt.NDArray[np.uint16]]


def _xrgb(src: Pixels) -> Pixels:
    return src


def _xbgr(src: Pixels) -> Pixels:
    swapped: Pixels = ((src & 0x00FF00) | (src >> 16 & 0xFF) | (src & 0xFF) << 16).astype(
        np.uint32, copy=False)
    return swapped


def _rgb565(src: Pixels) -> npt.NDArray[np.uint16]:
    packed = (src >> 8 & 0xF800) | (src >> 5 & 0x07E0) | (src >> 3 & 0x001F)
    return packed.astype(np.uint16)


# (bits per pixel, (red, green, blue) (offset, length)) -> conversion from XRGB
LAYOUTS: dict[tuple[int, tuple[int, ...]], Converter] = {
    (32, (16, 8, 8, 8, 0, 8)): _xrgb,
    (32, (0, 8, 8, 8, 16, 8)): _xbgr,
    (16, (11, 5, 5, 6, 0, 5)): _rgb565,
}


def _driver_layout(fd: int, bpp: int) -> tuple[int, tuple[int, ...]]:
    info = bytearray(_VSCREENINFO_SIZE)
    try:
        fcntl.ioctl(fd, FBIOGET_VSCREENINFO, info)
    except OSError:
        # Not a framebuffer driver (a plain file in tests): assume the common layouts.
        return bpp, (16, 8, 8, 8, 0, 8) if bpp == 32 else (11, 5, 5, 6, 0, 5)
    r_off, r_len, g_off, g_len, b_off, b_len = _RGB_FIELDS.unpack_from(info, 32)
    return bpp, (r_off, r_len, g_off, g_len, b_off, b_len)


def over(argb: Pixels, xrgb: Pixels) -> Pixels:
    """``argb`` (straight alpha) over ``xrgb``, per channel, rounded."""
    alpha = (argb >> 24).astype(np.uint32)
    out = np.zeros(xrgb.shape, np.uint32)
    for shift in (0, 8, 16):
        top = (argb >> shift) & 0xFF
        bottom = (xrgb >> shift) & 0xFF
        out |= div255(top * alpha + bottom * (255 - alpha)) << shift
    return out


class FbdevPresenter:
    name = "fbdev"
    event_fds: tuple[int, ...] = ()
    polled = False  # no window system to ask
    captures_pointer = False  # mice are read from evdev
    clipboard = None  # no other applications

    def __init__(self, device: Path = Path("/dev/fb0"),
                 sysfs: Path = Path("/sys/class/graphics/fb0")) -> None:
        try:
            width, height = (int(v) for v in (sysfs / "virtual_size").read_text().split(","))
            bpp = int((sysfs / "bits_per_pixel").read_text())
            stride = int((sysfs / "stride").read_text())
            fd = os.open(device, os.O_RDWR)
        except (OSError, ValueError) as exc:
            raise DisplayUnavailable(f"cannot use framebuffer {device}: {exc}") from None
        try:
            layout = _driver_layout(fd, bpp)
            convert = LAYOUTS.get(layout)
            if convert is None:
                raise DisplayUnavailable(
                    f"framebuffer {device} is {bpp} bpp with red/green/blue at {layout[1]}; "
                    f"supported: XRGB8888, XBGR8888, RGB565")
            self._map = mmap.mmap(fd, stride * height)
        finally:
            os.close(fd)
        self._convert = convert
        dtype = np.uint32 if bpp == 32 else np.uint16
        rows = np.frombuffer(self._map, np.uint8).reshape(height, stride)
        self._fb: npt.NDArray[np.uint32 | np.uint16] = rows[:, :width * bpp // 8].view(dtype)
        self._bounds = Box(0, 0, width, height)
        self._pixels: Pixels | None = None  # monitor 0 as last presented
        self._cursor: CursorShape | None = None
        self._hot = (0, 0)  # where the pointer's hot spot is

    def present(self, monitors: Sequence[Monitor], damage: Sequence[Sequence[Box]]) -> None:
        # One framebuffer is one output: it shows monitor 0 (KMS drives several).
        if not monitors:
            return
        pixels = self._pixels = monitors[0].pixels
        pointer = self._pointer_box()
        covered = False
        for box in damage[0]:
            b = box.intersect(self._bounds)
            if not b.empty:
                self._fb[b.top:b.bottom, b.left:b.right] = \
                    self._convert(pixels[b.top:b.bottom, b.left:b.right])
                covered = covered or not b.intersect(pointer).empty
        if covered:
            self._draw_pointer()  # the update went over it

    # The framebuffer has no pointer of its own: the guest's is drawn over the frame,
    # from the presented pixels (never from the framebuffer, so it leaves no trail).

    def output_sizes(self) -> list[tuple[int, int]] | None:
        return [(self._bounds.width, self._bounds.height)]

    def set_cursor(self, shape: CursorShape | None, visible: bool) -> None:
        old = self._pointer_box()
        self._cursor = shape if visible else None
        self._restore(old)
        self._draw_pointer()

    def move_pointer(self, x: int, y: int) -> None:
        if (x, y) == self._hot:
            return
        old = self._pointer_box()
        self._hot = (x, y)
        self._restore(old)
        self._draw_pointer()

    def _pointer_at(self) -> Box:
        """Where the whole pointer shape lies (empty without a shape)."""
        shape = self._cursor
        if shape is None:
            return Box(0, 0, 0, 0)
        left, top = self._hot[0] - shape.hot_x, self._hot[1] - shape.hot_y
        return Box(left, top, left + shape.width, top + shape.height)

    def _pointer_box(self) -> Box:
        """The part of the pointer on screen (empty before the first frame)."""
        if self._pixels is None:
            return Box(0, 0, 0, 0)
        height, width = self._pixels.shape
        return self._pointer_at().intersect(self._bounds).intersect(Box(0, 0, width, height))

    def _restore(self, b: Box) -> None:
        if not b.empty and self._pixels is not None:
            self._fb[b.top:b.bottom, b.left:b.right] = \
                self._convert(self._pixels[b.top:b.bottom, b.left:b.right])

    def _draw_pointer(self) -> None:
        b = self._pointer_box()
        if b.empty or self._cursor is None or self._pixels is None:
            return
        at = self._pointer_at()
        shape = self._cursor.pixels[b.top - at.top:b.bottom - at.top,
                                    b.left - at.left:b.right - at.left]
        under = self._pixels[b.top:b.bottom, b.left:b.right]
        self._fb[b.top:b.bottom, b.left:b.right] = self._convert(over(shape, under))

    def capture_pointer(self, captured: bool) -> None:
        pass  # evdev gives relative motion already

    def toggle_fullscreen(self) -> None:
        pass  # no window

    def screen_size(self, width: int, height: int) -> tuple[int, int]:
        return width, height  # shown upright

    def from_screen(self, event: InputEvent) -> InputEvent:
        return event

    def events(self) -> list[InputEvent]:
        return []

    def close(self) -> None:
        del self._fb
        self._map.close()
