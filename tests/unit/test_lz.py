"""LZ streams written by hand from lz.c's format; QEMU's real encoder is exercised by the
integration tests (policy LZ)."""

from __future__ import annotations

import struct

import pytest

from spicebox.codecs.lz import LZ_MAGIC, LZ_VERSION, PLT8, RGB16, RGB32, RGBA, decode_lz
from spicebox.spice.errors import ProtocolError


def stream(kind: int, width: int, height: int, stride: int, tokens: bytes,
           top_down: bool = True) -> memoryview:
    header = struct.pack(">7I", LZ_MAGIC, LZ_VERSION, kind, width, height, stride,
                         int(top_down))
    return memoryview(header + tokens)


def test_palette_literals_and_an_overlapping_match() -> None:
    # Literal [1, 2]; then 6 units from distance 2 (length bias 3: field 3 -> ctrl 4 << 5).
    tokens = bytes([1, 1, 2, 0x80, 0x01])
    out = decode_lz(stream(PLT8, 4, 2, 4, tokens), 4, 2, palette=(10, 20, 30))
    assert out.tolist() == [[20, 30, 20, 30], [20, 30, 20, 30]]


def test_long_match_lengths_continue_in_extra_bytes() -> None:
    # One literal, then a run of 19: field 16 = 6 + 10 -> ctrl 7 << 5, extra byte 10.
    tokens = bytes([0, 5, 0xE0, 10, 0x00])
    out = decode_lz(stream(PLT8, 20, 1, 20, tokens), 20, 1, palette=[0] * 5 + [99])
    assert out.tolist() == [[99] * 20]


def test_far_distance() -> None:
    units = bytes(i % 251 for i in range(8200))
    tokens = b"".join(bytes([31]) + units[i:i + 32] for i in range(0, 8192, 32))
    tokens += bytes([7]) + units[8192:8200]
    tokens += bytes([0x3F, 255, 0, 8])  # 3 units from 8200 back: 8191 + 8 + 1
    out = decode_lz(stream(PLT8, 8203, 1, 8203, tokens), 8203, 1, palette=range(256))
    assert out[0, -3:].tolist() == [0, 1, 2]


def test_rgb16_units_are_high_byte_first() -> None:
    out = decode_lz(stream(RGB16, 2, 1, 4, bytes([1, 0x7C, 0x00, 0x00, 0x1F])), 2, 1)
    assert out.tolist() == [[0xFF0000, 0x0000FF]]


def test_rgba_adds_an_alpha_pass() -> None:
    rgb = bytes([0, 1, 2, 3, 0x40, 0x00])  # pixel (b=1,g=2,r=3), then a run of 2
    alpha = bytes([2, 0x10, 0x20, 0x30])
    out = decode_lz(stream(RGBA, 3, 1, 12, rgb + alpha), 3, 1)
    assert out.tolist() == [[0x10030201, 0x20030201, 0x30030201]]


def test_bottom_up_rows() -> None:
    tokens = bytes([1, 1, 1, 1, 2, 2, 2])
    out = decode_lz(stream(RGB32, 1, 2, 4, tokens, top_down=False), 1, 2)
    assert out.tolist() == [[0x020202], [0x010101]]


@pytest.mark.parametrize(("data", "message"), [
    (stream(PLT8, 2, 1, 2, bytes([0x20, 0x05])), "outside"),  # reference before the start
    (stream(PLT8, 2, 1, 2, bytes([1, 7])), "truncated|past the end"),
    (stream(PLT8, 2, 1, 2, bytes([0, 7])), "truncated"),
    (memoryview(b"\0" * 28), "magic"),
    (stream(PLT8, 3, 1, 2, bytes([2, 1, 1, 1])), "in an image of"),
    (stream(77, 2, 1, 2, bytes([0, 0])), "unknown type"),
])
def test_corrupt_streams(data: memoryview, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_lz(data, 2, 1, palette=(1, 2))
