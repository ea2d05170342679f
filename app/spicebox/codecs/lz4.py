"""LZ4 images: [top-down u8][format u8] then linked LZ4 blocks, each [u32 BE size][data].

Blocks are compressed as one stream, so each may reference the previous 64 KiB of output;
python-lz4's block API takes that window as its ``dict``.
"""

from __future__ import annotations

import struct

import lz4.block

from ..spice.constants import BitmapFormat
from ..spice.errors import ProtocolError
from .pixels import BYTES_PER_PIXEL, Pixels, to_xrgb

_BLOCK_SIZE = struct.Struct(">I")
_WINDOW = 64 * 1024


def decode_lz4(data: memoryview, width: int, height: int) -> Pixels:
    if len(data) < 2:
        raise ProtocolError("LZ4 image shorter than its 2-byte header")
    top_down, fmt = data[0], data[1]
    if fmt not in BYTES_PER_PIXEL:
        raise ProtocolError(f"LZ4 image in bitmap format {fmt}, which LZ4 never carries")
    stride = width * BYTES_PER_PIXEL[BitmapFormat(fmt)]
    total = stride * height
    blocks: list[bytes] = []
    window = b""  # the last 64 KiB of output, which the next block may reference
    produced, pos, end = 0, 2, len(data)
    while pos < end and produced < total:
        if pos + 4 > end:
            raise ProtocolError("LZ4 image truncated inside a block header")
        (size,) = _BLOCK_SIZE.unpack_from(data, pos)
        pos += 4
        if pos + size > end:
            raise ProtocolError("LZ4 image truncated inside a block")
        # LZ4 expands at most about 255:1, so asking for more only costs allocation.
        limit = min(total - produced, size * 255 + 16)
        try:
            block = lz4.block.decompress(data[pos:pos + size], uncompressed_size=limit,
                                         dict=window)
        except lz4.block.LZ4BlockError as exc:
            raise ProtocolError(f"corrupt LZ4 image block: {exc}") from None
        if not block:  # spice-gtk refuses these too; accepting them lets a server spin us
            raise ProtocolError("LZ4 image block decodes to nothing")
        pos += size
        blocks.append(block)
        produced += len(block)
        # A block at least as long as the window is the window: no copy needed.
        window = block if len(block) >= _WINDOW else (window + block)[-_WINDOW:]
    if produced != total:
        raise ProtocolError(f"LZ4 image decoded to {produced} bytes, expected {total}")
    out = blocks[0] if len(blocks) == 1 else b"".join(blocks)
    return to_xrgb(out, fmt, width, height, stride, bool(top_down))
