"""JPEG images and MJPEG video frames, decoded by SDL_image's libjpeg through pygame-ce
(C-backed: on a board this is the only sensible way to decode video in Python)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .. import sdl_loader
from ..spice.errors import ProtocolError
from .pixels import Pixels

# Start-of-frame markers carry the size: baseline, extended, progressive, lossless.
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3})
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})


def jpeg_size(data: memoryview) -> tuple[int, int]:
    """(width, height) from the frame header, read before libjpeg allocates anything."""
    pos = 2
    if bytes(data[:2]) != b"\xff\xd8":
        raise ProtocolError("JPEG without a start-of-image marker")
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ProtocolError("corrupt JPEG: marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        length = data[pos + 2] << 8 | data[pos + 3]
        if marker in _SOF_MARKERS and pos + 9 <= len(data):
            height = data[pos + 5] << 8 | data[pos + 6]
            width = data[pos + 7] << 8 | data[pos + 8]
            return width, height
        pos += 2 + length
    raise ProtocolError("corrupt JPEG: no frame header")


def decode_jpeg(data: memoryview, max_pixels: int) -> Pixels:
    width, height = jpeg_size(data)
    if not 0 < width * height <= max_pixels:
        raise ProtocolError(f"JPEG of {width}x{height} is out of range")
    image = _load(data)
    width, height = image.get_size()
    pixels: Pixels = np.empty((height, width), np.uint32)
    # SDL's BGRA byte order is the canvas's XRGB in a little-endian u32; SDL converts the
    # decoded RGB into it as it blits, with no intermediate copy.
    sdl_loader.pygame().image.frombuffer(pixels, (width, height), "BGRA").blit(image, (0, 0))
    return pixels


def decode_jpeg_into(data: memoryview, surface: Pixels, left: int, top: int, width: int,
                     height: int) -> bool:
    """Decode a ``width`` x ``height`` JPEG straight into ``surface`` (a whole, C-ordered
    surface) at (left, top), saving a video frame's intermediate copy; False, with
    nothing drawn, for a JPEG of another size or a box SDL cannot be given (its last
    row flush with the surface's end, right of column 0)."""
    rows, columns = surface.shape
    start = top * columns + left
    if width * height <= 0 or jpeg_size(data) != (width, height) \
            or left + width > columns or start + height * columns > rows * columns:
        return False
    image = _load(data)  # its header's size was checked above
    if image.get_size() != (width, height):
        return False
    # SDL takes a surface's pixels as one buffer of pitch x height bytes.
    region = surface.reshape(-1)[start:start + height * columns]
    sdl_loader.pygame().image.frombuffer(region, (width, height), "BGRA",
                                         columns * 4).blit(image, (0, 0))
    return True


def _load(data: memoryview) -> Any:  # a pygame Surface (no types)
    pygame = sdl_loader.pygame()
    try:
        return pygame.image.load(io.BytesIO(data), "frame.jpg")
    except pygame.error as exc:
        raise ProtocolError(f"corrupt JPEG: {exc}") from None
