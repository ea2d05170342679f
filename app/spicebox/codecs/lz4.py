"""LZ4 images: [top-down u8][format u8] then linked LZ4 blocks, each [u32 BE size][data].

Blocks are compressed as one stream, so each may reference the previous 64 KiB of output.
This is the hot path of the default policy, so the blocks are decoded straight into one
output buffer by the system's liblz4: with the window right in front of the destination
LZ4 takes its fastest (prefix) path, and there is no per-block copy or join. python-lz4's
block API cannot write into a caller's buffer, which cost about 1.9x a one-block decode.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct

import numpy as np

from ..spice.constants import BitmapFormat
from ..spice.errors import ProtocolError
from .pixels import BYTES_PER_PIXEL, Pixels, to_xrgb

_BLOCK_SIZE = struct.Struct(">I")
_WINDOW = 64 * 1024


def _load_liblz4() -> ctypes.CDLL:
    name = ctypes.util.find_library("lz4") or "liblz4.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise ImportError(f"liblz4 is missing ({exc}): install the liblz4-1 package") from None
    fn = lib.LZ4_decompress_safe_usingDict
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                   ctypes.c_void_p, ctypes.c_int]
    fn.restype = ctypes.c_int
    return lib


# The bounds-checked decoder: it never reads past a block or writes past its capacity,
# whatever the bytes say.
_decompress = _load_liblz4().LZ4_decompress_safe_usingDict


def carries_alpha(data: memoryview) -> bool:
    return len(data) >= 2 and data[1] == BitmapFormat.RGBA


def decodes_in_place(data: memoryview) -> bool:
    """Whether the image's bytes are already canvas pixels (32 bpp, top-down), so it can be
    decoded straight into a surface with ``decode_lz4(..., into=)``."""
    return len(data) >= 2 and data[0] == 1 and data[1] in (BitmapFormat.BIT32,
                                                          BitmapFormat.RGBA)


def decode_lz4(data: memoryview, width: int, height: int, into: Pixels | None = None) -> Pixels:
    """The image's pixels; written into ``into`` (C-contiguous, height x width) when given,
    which the caller has checked with ``decodes_in_place``."""
    if len(data) < 2:
        raise ProtocolError("LZ4 image shorter than its 2-byte header")
    top_down, fmt = data[0], data[1]
    if fmt not in BYTES_PER_PIXEL:
        raise ProtocolError(f"LZ4 image in bitmap format {fmt}, which LZ4 never carries")
    stride = width * BYTES_PER_PIXEL[BitmapFormat(fmt)]
    total = stride * height
    source = np.frombuffer(data, np.uint8)
    if into is not None:
        assert into.shape == (height, width) and into.flags.c_contiguous
        assert decodes_in_place(data)
        out = into.reshape(-1).view(np.uint8)
    else:
        out = np.empty(total, np.uint8)
    src, dst = source.ctypes.data, out.ctypes.data
    produced, pos, end = 0, 2, len(data)
    while pos < end and produced < total:
        if pos + 4 > end:
            raise ProtocolError("LZ4 image truncated inside a block header")
        (size,) = _BLOCK_SIZE.unpack_from(data, pos)
        pos += 4
        if pos + size > end:
            raise ProtocolError("LZ4 image truncated inside a block")
        window = min(produced, _WINDOW)
        n = _decompress(src + pos, dst + produced, size, total - produced,
                        dst + produced - window, window)
        if n < 0:
            raise ProtocolError(f"corrupt LZ4 image block at byte {pos}")
        if n == 0:  # spice-gtk refuses these too; accepting them lets a server spin us
            raise ProtocolError("LZ4 image block decodes to nothing")
        pos += size
        produced += n
    if produced != total:
        raise ProtocolError(f"LZ4 image decoded to {produced} bytes, expected {total}")
    if into is not None:
        return into
    return to_xrgb(out.data, fmt, width, height, stride, bool(top_down))
