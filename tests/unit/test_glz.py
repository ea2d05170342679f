"""GLZ against spice-server's own encoder (tests/fixtures/glz.rec.xz, recorded from QEMU
showing the console guest's images 0, 1 and 0), plus hand-made streams for the corners."""

from __future__ import annotations

import dataclasses
import struct
import zlib

import numpy as np
import pytest

from spicebox.canvas.canvas import Canvas
from spicebox.codecs.glz import GlzWindow, carries_alpha, zlib_carries_alpha
from spicebox.codecs.lz import LZ_MAGIC, LZ_VERSION, RGB32, RGBA
from spicebox.codecs.pixels import to_rgb
from spicebox.spice import messages as m
from spicebox.spice.constants import ImageType
from spicebox.spice.errors import ProtocolError
from spicebox.spice.wire import Message
from tests.guests.console import render_image

from .replay import replay

WINDOW = 4 * 1024 * 1024


def test_real_server_stream_decodes_exactly() -> None:
    c = replay("glz", Canvas(glz_window_pixels=WINDOW))
    assert c.image_types[ImageType.GLZ_RGB] > 100
    assert c.primary is not None
    np.testing.assert_array_equal(to_rgb(c.primary.pixels), render_image(0))


def zlib_wrapped(msg: Message) -> Message:
    if not (isinstance(msg, m.DrawCopy) and msg.src_bitmap is not None
            and msg.src_bitmap.descriptor.type == ImageType.GLZ_RGB):
        return msg
    d, payload = msg.src_bitmap.descriptor, msg.src_bitmap.payload
    assert isinstance(payload, m.BinaryData)
    wrapped = m.Image(dataclasses.replace(d, type=ImageType.ZLIB_GLZ_RGB),
                      m.ZlibGlzData(len(payload.data), memoryview(zlib.compress(payload.data))))
    return dataclasses.replace(msg, src_bitmap=wrapped)


def test_zlib_wrapped_glz_is_the_same_stream_deflated() -> None:
    c = replay("glz", Canvas(glz_window_pixels=WINDOW), zlib_wrapped)
    assert c.image_types[ImageType.ZLIB_GLZ_RGB] > 100
    assert c.primary is not None
    np.testing.assert_array_equal(to_rgb(c.primary.pixels), render_image(0))


def glz(kind: int, width: int, height: int, image_id: int, head_distance: int,
        tokens: bytes, top_down: bool = True) -> memoryview:
    header = struct.pack(">IIBIIIQI", LZ_MAGIC, LZ_VERSION, kind | top_down << 4, width,
                         height, width * 4, image_id, head_distance)
    return memoryview(header + tokens)


def test_references_reach_into_earlier_images() -> None:
    window = GlzWindow(1000)
    first = window.decode(glz(RGB32, 3, 1, 0, 0, bytes([2, 1, 1, 1, 2, 2, 2, 3, 3, 3])), 3, 1)
    assert first.tolist() == [[0x010101, 0x020202, 0x030303]]
    # Two pixels from image 0 at pixel offset 1: ctrl length 2, offset 1; image distance 1.
    second = window.decode(glz(RGB32, 2, 1, 1, 1, bytes([0x41, 0x00, 0x01])), 2, 1)
    assert second.tolist() == [[0x020202, 0x030303]]


def test_runs_inside_one_image_and_bottom_up_rows() -> None:
    # One literal, then a run of 3 at distance 1 (offset field 0 + bias 1).
    out = GlzWindow(100).decode(glz(RGB32, 2, 2, 0, 0, bytes([0, 9, 8, 7, 0x60, 0, 0]),
                                    top_down=False), 2, 2)
    assert out.tolist() == [[0x070809] * 2] * 2


def test_rgba_second_pass_writes_alpha() -> None:
    rgb = bytes([1, 1, 2, 3, 4, 5, 6])
    alpha = bytes([1, 0x80, 0x40])
    out = GlzWindow(100).decode(glz(RGBA, 2, 1, 0, 0, rgb + alpha), 2, 1)
    assert out.tolist() == [[0x80030201, 0x40060504]]


def test_reference_to_an_image_that_left_the_window() -> None:
    window = GlzWindow(1000)
    window.decode(glz(RGB32, 1, 1, 0, 0, bytes([0, 1, 1, 1])), 1, 1)
    window.decode(glz(RGB32, 1, 1, 1, 0, bytes([0, 2, 2, 2])), 1, 1)  # head moved to 1
    with pytest.raises(ProtocolError, match="refers to image 0"):
        window.decode(glz(RGB32, 1, 1, 2, 1, bytes([0x20, 0x00, 0x02])), 1, 1)


@pytest.mark.parametrize(("data", "width", "message"), [
    (glz(RGB32, 2, 1, 0, 0, bytes([1, 1, 1])), 2, "truncated"),
    (glz(RGB32, 2, 1, 0, 0, bytes([0x40, 0x00, 0x00])), 2, "before the start"),
    (glz(RGB32, 1, 1, 0, 0, bytes([1, 1, 1, 1, 2, 2, 2])), 1, "past the end"),
    (glz(5, 1, 1, 0, 0, bytes([0, 1])), 1, "not an RGB type"),
    (glz(RGB32, 1, 1, 0, 1, bytes([0, 1, 1, 1])), 1, "before image 0"),
    (glz(RGB32, 9, 1, 0, 0, b""), 1, "9x1 in an image of 1x1"),
    (memoryview(b"LZ  "), 1, "shorter than its header"),
])
def test_corrupt_streams_are_protocol_errors(data: memoryview, width: int, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        GlzWindow(100).decode(data, width, 1)


def test_zlib_wrapper_must_inflate_to_its_size() -> None:
    with pytest.raises(ProtocolError, match="inflates"):
        GlzWindow(100).decode_zlib(memoryview(zlib.compress(b"abc")), 4, 1, 1)
    with pytest.raises(ProtocolError, match="does not inflate"):
        GlzWindow(100).decode_zlib(memoryview(b"not zlib"), 4, 1, 1)


def test_headers_tell_whether_the_image_carries_alpha() -> None:
    rgba, rgb = glz(RGBA, 1, 1, 0, 0, b""), glz(RGB32, 1, 1, 0, 0, b"")
    assert carries_alpha(rgba) and not carries_alpha(rgb) and not carries_alpha(rgba[:8])
    assert zlib_carries_alpha(memoryview(zlib.compress(rgba)))
    assert not zlib_carries_alpha(memoryview(b"not zlib"))
