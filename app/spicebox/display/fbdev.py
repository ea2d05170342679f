"""Direct framebuffer presenter for boards without KMS: mmap /dev/fbN and copy damage in.

SDL 2 dropped its fbdev driver, so this is ours: a 32 bpp framebuffer takes the XRGB rows
as they are; a 16 bpp one (RGB565, common on small SPI panels) is converted per box.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..canvas.surface import Box, Surface
from .sdl import DisplayUnavailable


class FbdevPresenter:
    name = "fbdev"

    def __init__(self, device: Path = Path("/dev/fb0"),
                 sysfs: Path = Path("/sys/class/graphics/fb0")) -> None:
        try:
            width, height = (int(v) for v in (sysfs / "virtual_size").read_text().split(","))
            self._bpp = int((sysfs / "bits_per_pixel").read_text())
            stride = int((sysfs / "stride").read_text())
            fd = os.open(device, os.O_RDWR)
        except (OSError, ValueError) as exc:
            raise DisplayUnavailable(f"cannot use framebuffer {device}: {exc}") from None
        if self._bpp not in (16, 32):
            os.close(fd)
            raise DisplayUnavailable(f"framebuffer {device} is {self._bpp} bpp; "
                                     f"only 16 and 32 are supported")
        try:
            self._map = mmap.mmap(fd, stride * height)
        finally:
            os.close(fd)
        dtype = np.uint32 if self._bpp == 32 else np.uint16
        rows = np.frombuffer(self._map, np.uint8).reshape(height, stride)
        self._fb: npt.NDArray[np.uint32 | np.uint16] = rows[:, :width * self._bpp // 8].view(dtype)
        self._bounds = Box(0, 0, width, height)

    def present(self, surface: Surface, damage: Box) -> None:
        box = damage.intersect(self._bounds)
        if box.empty:
            return
        src = surface.pixels[box.top:box.bottom, box.left:box.right]
        dst = self._fb[box.top:box.bottom, box.left:box.right]
        if self._bpp == 32:
            dst[...] = src
        else:
            dst[...] = (src >> 8 & 0xF800) | (src >> 5 & 0x07E0) | (src >> 3 & 0x001F)

    def quit_requested(self) -> bool:
        return False

    def close(self) -> None:
        del self._fb
        self._map.close()
