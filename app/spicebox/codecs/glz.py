"""GLZ images (GLZ_RGB, ZLIB_GLZ_RGB): SPICE's LZ77 variant with a dictionary of earlier images.

A GLZ stream's header (big-endian: magic, version, a type byte whose high nibble is the
top-down flag, width, height, stride, u64 image id, u32 window-head distance) is followed
by tokens like LZ's, except that a back-reference may name an earlier image (by its
distance in ids) and a pixel offset inside it. So every decoded image stays in a window
until the server's window head has moved past it.

Images are kept as 4-byte units, B,G,R,pad, exactly as spice-gtk's decoder keeps them:
a reference copies whole units, whatever type the referring image has. RGBA images add a
second pass that writes the pad bytes (alpha). spice-server only GLZ-encodes RGB formats
(its ``bitmap_fmt_has_graduality``), so palette types are refused.

Like LZ this is a fallback the policy avoids (GLZ saves bandwidth, not CPU); the decoder
works token by token on byte slices, never per pixel.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import numpy as np

from ..spice.errors import ProtocolError
from .lz import LZ_MAGIC, LZ_VERSION, RGB16, RGB24, RGB32, RGBA
from .pixels import Pixels, from_rgb555

_HEADER = struct.Struct(">IIBIIIQI")
_TYPE_MASK = 0x0F
_TYPE_OFFSET = 8  # after magic and version
_MAX_COPY = 32
# What the length field of a reference counts from, per pass (decode-glz-tmpl.c's biases).
_LENGTH_BIAS = {RGB16: 1, RGB24: 0, RGB32: 0}
_ALPHA_LENGTH_BIAS = 2

# Copies a literal run of n pixels from data[ip:] into units at op; returns the new ip.
_Literal = Callable[[bytearray, int, int, bytes, int], int]


def carries_alpha(data: memoryview | bytes) -> bool:
    """Whether the stream's header announces an RGBA image (a short one does not)."""
    return len(data) > _TYPE_OFFSET and data[_TYPE_OFFSET] & _TYPE_MASK == RGBA


def zlib_carries_alpha(data: memoryview) -> bool:
    """``carries_alpha`` for ZLIB_GLZ: inflating the header's first bytes is enough."""
    try:
        head = zlib.decompressobj().decompress(data, _TYPE_OFFSET + 1)
    except zlib.error:
        return False  # decoding it says what is wrong
    return carries_alpha(head)


class GlzWindow:
    """The decoded images later GLZ images may refer to, for one dictionary.

    ``max_pixels`` bounds what is kept whatever the server says: the window size this
    client announced, with room for the image being decoded.
    """

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels
        self._images: dict[int, bytearray] = {}
        self._pixels = 0

    def clear(self) -> None:
        self._images.clear()
        self._pixels = 0

    def decode(self, data: memoryview, width: int, height: int) -> Pixels:
        if len(data) < _HEADER.size:
            raise ProtocolError("GLZ image shorter than its header")
        magic, version, type_byte, g_width, g_height, _stride, image_id, head_distance = \
            _HEADER.unpack_from(data)
        if magic != LZ_MAGIC or version != LZ_VERSION:
            raise ProtocolError(f"GLZ image with magic {magic:#x} version {version:#x}")
        if (g_width, g_height) != (width, height):
            raise ProtocolError(f"GLZ image of {g_width}x{g_height} in an image of "
                                f"{width}x{height}")
        kind, top_down = type_byte & _TYPE_MASK, bool(type_byte >> 4)
        if kind not in (RGB16, RGB24, RGB32, RGBA):
            raise ProtocolError(f"GLZ image of type {kind}, which is not an RGB type")
        if head_distance > image_id:
            raise ProtocolError(f"GLZ image {image_id} has its window head before image 0")
        count = width * height
        units = bytearray(4 * count)
        stream = _Tokens(bytes(data), _HEADER.size, self._images, image_id)
        stream.decode_rgb(units, count, kind)
        if kind == RGBA:
            stream.decode_alpha(units, count)
        self._keep(image_id, units, image_id - head_distance)

        pixels = np.frombuffer(units, np.uint32).reshape(height, width)
        if kind != RGBA:
            # The pad bytes may hold what references copied from RGBA images; this image
            # has no alpha, and the canvas's pixels say so with a zero top byte.
            pixels = pixels & np.uint32(0x00FFFFFF)
        rows: Pixels = pixels if top_down else pixels[::-1]
        return rows

    def decode_zlib(self, data: memoryview, glz_size: int, width: int, height: int) -> Pixels:
        """ZLIB_GLZ_RGB: a GLZ stream deflated once more, for slow links."""
        inflater = zlib.decompressobj()
        try:
            glz = inflater.decompress(data, glz_size)
        except zlib.error as exc:
            raise ProtocolError(f"ZLIB_GLZ image does not inflate: {exc}") from None
        if len(glz) != glz_size or inflater.unconsumed_tail:
            raise ProtocolError(f"ZLIB_GLZ image inflates to other than its {glz_size} bytes")
        return self.decode(memoryview(glz), width, height)

    def _keep(self, image_id: int, units: bytearray, oldest_needed: int) -> None:
        # The server never refers before its window head again, and images come in id
        # order on one channel (each display channel has a dictionary of its own).
        for old in [i for i in self._images if i < oldest_needed]:
            self._pixels -= len(self._images.pop(old)) // 4
        self._images[image_id] = units
        self._pixels += len(units) // 4
        while self._pixels > self.max_pixels and len(self._images) > 1:
            self._pixels -= len(self._images.pop(min(self._images))) // 4


class _Tokens:
    def __init__(self, data: bytes, pos: int, window: dict[int, bytearray],
                 image_id: int) -> None:
        self.data = data
        self.pos = pos
        self.window = window
        self.image_id = image_id

    def _references(self, units: bytearray, count: int, bias: int,
                    literal: _Literal, lane: int) -> None:
        """The token loop of one pass; ``lane`` is 0 for whole units, 3 for the pad byte."""
        data, window, image_id = self.data, self.window, self.image_id
        end = len(data)
        ip = self.pos
        op = 0
        try:
            while op < count:
                ctrl = data[ip]
                ip += 1
                if ctrl < _MAX_COPY:
                    n = ctrl + 1
                    if op + n > count:
                        raise ProtocolError("GLZ literal run past the end of its image")
                    ip = literal(units, op, n, data, ip)
                    if ip > end:
                        raise ProtocolError("GLZ image truncated")
                    op += n
                    continue
                length = ctrl >> 5
                pixel_flag = ctrl >> 4 & 1
                offset = ctrl & 0x0F
                if length == 7:
                    while True:
                        code = data[ip]
                        ip += 1
                        length += code
                        if code != 255:
                            break
                offset += data[ip] << 4
                code = data[ip + 1]
                ip += 2
                image_flag = code >> 6
                if not pixel_flag:
                    distance = code & 0x3F
                    for i in range(image_flag):
                        distance += data[ip] << (6 + 8 * i)
                        ip += 1
                else:
                    far = code >> 5 & 1
                    offset += (code & 0x1F) << 12
                    distance = 0
                    for i in range(image_flag):
                        distance += data[ip] << (8 * i)
                        ip += 1
                    if far:
                        offset += data[ip] << 17
                        ip += 1
                length += bias
                if op + length > count:
                    raise ProtocolError("GLZ reference past the end of its image")
                if distance == 0:
                    ref = op - offset - 1
                    if ref < 0:
                        raise ProtocolError("GLZ reference before the start of its image")
                    _copy_within(units, ref, op, length, lane)
                else:
                    source = window.get(image_id - distance)
                    if source is None:
                        raise ProtocolError(f"GLZ image {image_id} refers to image "
                                            f"{image_id - distance}, which is not in the "
                                            f"window")
                    if 4 * (offset + length) > len(source):
                        raise ProtocolError("GLZ reference past the end of an earlier image")
                    _copy_from(units, op, source, offset, length, lane)
                op += length
        except IndexError:
            raise ProtocolError("GLZ image truncated") from None
        self.pos = ip

    def decode_rgb(self, units: bytearray, count: int, kind: int) -> None:
        literal = _literal_rgb16 if kind == RGB16 else _literal_bgr
        self._references(units, count, _LENGTH_BIAS.get(kind, 0), literal, 0)

    def decode_alpha(self, units: bytearray, count: int) -> None:
        self._references(units, count, _ALPHA_LENGTH_BIAS, _literal_alpha, 3)


def _literal_bgr(units: bytearray, op: int, n: int, data: bytes, ip: int) -> int:
    """``n`` pixels of 3 bytes (B, G, R) into units whose pad stays 0."""
    run = data[ip:ip + 3 * n]
    if len(run) != 3 * n:
        raise ProtocolError("GLZ image truncated")
    start, stop = 4 * op, 4 * (op + n)
    units[start:stop:4] = run[0::3]
    units[start + 1:stop:4] = run[1::3]
    units[start + 2:stop:4] = run[2::3]
    return ip + 3 * n


def _literal_rgb16(units: bytearray, op: int, n: int, data: bytes, ip: int) -> int:
    """``n`` 15-bit pixels, high byte first, widened as the server's RGB16 is everywhere."""
    run = np.frombuffer(data, ">u2", n, ip) if ip + 2 * n <= len(data) else None
    if run is None:
        raise ProtocolError("GLZ image truncated")
    units[4 * op:4 * (op + n)] = from_rgb555(run.astype(np.uint32)).tobytes()
    return ip + 2 * n


def _literal_alpha(units: bytearray, op: int, n: int, data: bytes, ip: int) -> int:
    run = data[ip:ip + n]
    if len(run) != n:
        raise ProtocolError("GLZ image truncated")
    units[4 * op + 3:4 * (op + n):4] = run
    return ip + n


def _copy_within(units: bytearray, ref: int, op: int, length: int, lane: int) -> None:
    distance = op - ref
    if lane:
        if distance >= length:
            units[4 * op + 3:4 * (op + length):4] = units[4 * ref + 3:4 * (ref + length):4]
        else:
            pattern = units[4 * ref + 3:4 * op:4]
            units[4 * op + 3:4 * (op + length):4] = (pattern * -(-length // distance))[:length]
        return
    if distance >= length:
        units[4 * op:4 * (op + length)] = units[4 * ref:4 * (ref + length)]
    else:  # overlapping: the last `distance` units repeat (a run when distance is 1)
        pattern = units[4 * ref:4 * op]
        units[4 * op:4 * (op + length)] = (pattern * -(-length // distance))[:4 * length]


def _copy_from(units: bytearray, op: int, source: bytearray, offset: int, length: int,
               lane: int) -> None:
    if lane:
        units[4 * op + 3:4 * (op + length):4] = source[4 * offset + 3:4 * (offset + length):4]
    else:
        units[4 * op:4 * (op + length)] = source[4 * offset:4 * (offset + length)]
