from __future__ import annotations

import struct

import lz4.block
import numpy as np
import pytest

from spicebox.canvas.canvas import Canvas
from spicebox.canvas.surface import Box
from spicebox.codecs.lz4 import decode_lz4
from spicebox.codecs.pixels import to_xrgb
from spicebox.spice import messages as m
from spicebox.spice.constants import BitmapFormat, ClipType, ImageType, Ropd, SurfaceFlags
from spicebox.spice.errors import ProtocolError

RNG = np.random.default_rng(1)


def lz4_image(raw: bytes, fmt: int, top_down: bool, block: int) -> memoryview:
    """Encode like spice-server: one LZ4 stream cut into linked blocks, sizes big-endian."""
    out = bytearray([int(top_down), fmt])
    for i in range(0, len(raw), block):
        chunk = raw[i:i + block]
        data = lz4.block.compress(chunk, store_size=False, dict=raw[max(0, i - 65536):i])
        out += struct.pack(">I", len(data)) + data
    return memoryview(bytes(out))


@pytest.mark.parametrize("top_down", [True, False])
def test_lz4_linked_blocks(top_down: bool) -> None:
    h, w = 37, 53
    pixels = (RNG.integers(0, 4, (h, w), dtype=np.uint32) * 0x00102030)
    rows = pixels if top_down else pixels[::-1]
    decoded = decode_lz4(lz4_image(rows.tobytes(), BitmapFormat.BIT32, top_down, 1000), w, h)
    np.testing.assert_array_equal(decoded, pixels)


def test_lz4_24bit() -> None:
    bgr = RNG.integers(0, 255, (4, 5, 3), dtype=np.uint8)
    decoded = decode_lz4(lz4_image(bgr.tobytes(), BitmapFormat.BIT24, True, 7), 5, 4)
    expect = bgr[..., 0].astype(np.uint32) | bgr[..., 1].astype(np.uint32) << 8 | \
        bgr[..., 2].astype(np.uint32) << 16
    np.testing.assert_array_equal(decoded, expect)


@pytest.mark.parametrize("damage", ["truncate", "corrupt", "short"])
def test_lz4_damage_is_a_protocol_error(damage: str) -> None:
    data = bytearray(lz4_image(RNG.bytes(4 * 64 * 8), BitmapFormat.BIT32, True, 500))
    if damage == "truncate":
        data = data[:-3]
    elif damage == "corrupt":
        data[8:40] = b"\xff" * 32
    else:
        data = data[:2] + struct.pack(">I", 3) + b"abc"
    with pytest.raises(ProtocolError):
        decode_lz4(memoryview(bytes(data)), 64, 8)


def test_bitmap_32_bottom_up_with_padding() -> None:
    rows = np.arange(6, dtype=np.uint32).reshape(2, 3)
    padded = np.zeros((2, 4), np.uint32)
    padded[:, :3] = rows[::-1]
    out = to_xrgb(padded.tobytes(), BitmapFormat.BIT32, 3, 2, 16, top_down=False)
    np.testing.assert_array_equal(out, rows)


def test_bitmap_16_expands_to_full_range() -> None:
    data = np.array([[0x7FFF, 0x7C00, 0x001F]], "<u2").tobytes()
    out = to_xrgb(data, BitmapFormat.BIT16, 3, 1, 6, top_down=True)
    assert out.tolist() == [[0xFFFFFF, 0xFF0000, 0x0000FF]]


@pytest.mark.parametrize(("fmt", "data", "expect"), [
    (BitmapFormat.BIT8, bytes([2, 0, 1]), [30, 10, 20]),
    (BitmapFormat.BIT4_BE, bytes([0x21, 0x00]), [30, 20, 10]),
    (BitmapFormat.BIT4_LE, bytes([0x21, 0x00]), [20, 30, 10]),
    (BitmapFormat.BIT1_BE, bytes([0b10100000]), [20, 10, 20]),
    (BitmapFormat.BIT1_LE, bytes([0b00000101]), [20, 10, 20]),
])
def test_indexed_bitmaps(fmt: int, data: bytes, expect: list[int]) -> None:
    out = to_xrgb(data, fmt, 3, 1, len(data), top_down=True, palette=(10, 20, 30))
    assert out.tolist() == [expect]


def test_bitmap_too_short() -> None:
    with pytest.raises(ProtocolError, match="needs"):
        to_xrgb(b"\0" * 10, BitmapFormat.BIT32, 3, 2, 12, top_down=True)


def test_lz4_empty_block_is_refused() -> None:
    data = bytes([1, BitmapFormat.BIT32]) + struct.pack(">I", 1) + b"\x00"
    with pytest.raises(ProtocolError):
        decode_lz4(memoryview(data), 4, 4)


@pytest.mark.parametrize("clipped", [False, True])
@pytest.mark.parametrize("top_down", [True, False])
def test_whole_width_lz4_copies_land_the_same_in_place_or_not(clipped: bool,
                                                              top_down: bool) -> None:
    # Unclipped, top-down, whole-width: decoded straight into the surface; otherwise
    # through the general path. Both must give the same pixels.
    w, h = 16, 5
    rows = RNG.integers(0, 2**32, (h, w), dtype=np.uint32)
    raw = (rows if top_down else rows[::-1]).tobytes()
    canvas = Canvas()
    canvas.apply(m.SurfaceCreate(0, w, 8, 32, SurfaceFlags.PRIMARY))
    image = m.Image(m.ImageDescriptor(1, ImageType.LZ4, 0, w, h),
                    m.BinaryData(lz4_image(raw, BitmapFormat.BIT32, top_down, 100)))
    dest = m.Rect(2, 0, 2 + h, w)
    clip = m.Clip(ClipType.RECTS, (dest,)) if clipped else m.Clip(ClipType.NONE)
    damage = canvas.apply(m.DrawCopy(m.DisplayBase(0, dest, clip), image, m.Rect(0, 0, h, w),
                                     Ropd.OP_PUT, 0, m.NO_MASK))
    assert damage == Box(0, 2, w, 2 + h)
    assert canvas.primary is not None
    np.testing.assert_array_equal(canvas.primary.pixels[2:2 + h], rows)
    assert not canvas.primary.pixels[:2].any() and not canvas.primary.pixels[2 + h:].any()
