"""Every cursor type decodes to the ARGB a screen would show; the channel keeps its cache
and state the way spice-gtk does, and survives a bad shape."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from spicebox.codecs.cursor import decode_cursor
from spicebox.spice import messages as m
from spicebox.spice.constants import CursorFlags, CursorType
from spicebox.spice.cursor import CursorChannel
from spicebox.spice.errors import ProtocolError
from spicebox.spice.events import ChannelEvent, CursorState

from .server_bytes import frame, link_reply, link_result

CLEAR, BLACK, WHITE = 0, 0xFF000000, 0xFFFFFFFF
INV0, INV1 = 0x30505050, 0xC0303030  # the checkerboard that stands in for "invert"


def test_alpha_is_taken_as_is() -> None:
    pixels = [0x80FF0000, 0x00000000, 0xFF00FF00]
    data = memoryview(struct.pack("<3I", *pixels))
    assert decode_cursor(CursorType.ALPHA, 3, 1, data).tolist() == [pixels]


def test_mono_and_xor() -> None:
    # and: 0 0 1 1 / xor: 0 1 0 1 -> black, white, transparent, invert (row 0, x even/odd)
    data = memoryview(bytes([0b00110000, 0b01010000]))
    assert decode_cursor(CursorType.MONO, 4, 1, data).tolist() == [
        [BLACK, WHITE, CLEAR, INV1]]


def mask(rows: list[str]) -> bytes:
    """AND-mask rows, each padded to whole bytes."""
    out = b""
    for row in rows:
        out += int(row.ljust(-(-len(row) // 8) * 8, "0"), 2).to_bytes(-(-len(row) // 8), "big")
    return out


def test_color4_palette_odd_width_and_mask() -> None:
    palette = [0x000000] * 16
    palette[1], palette[2], palette[15] = 0x112233, 0x445566, 0xFFFFFF
    pixels = bytes([0x12, 0xF0,   # row 0: 1 2 15 (pad nibble)
                    0x21, 0x10])  # row 1: 2 1 1
    data = pixels + struct.pack("<16I", *palette) + mask(["001", "010"])
    out = decode_cursor(CursorType.COLOR4, 3, 2, memoryview(data)).tolist()
    assert out == [[0xFF112233, 0xFF445566, INV0], [0xFF445566, CLEAR, 0xFF112233]]


def test_color8() -> None:
    palette = [0] * 256
    palette[200] = 0xABCDEF
    data = bytes([200, 0]) + struct.pack("<256I", *palette) + mask(["01"])
    assert decode_cursor(CursorType.COLOR8, 2, 1, memoryview(data)).tolist() == [
        [0xFFABCDEF, CLEAR]]


def test_color16_24_32_with_a_mask_wider_than_a_byte() -> None:
    width = 9
    row = ["0" * 8 + "1"]  # only the ninth pixel masked: the mask row is 2 bytes
    rgb555 = (0x1F << 10) | (0x10 << 5) | 0x01  # red 31, green 16, blue 1
    out16 = decode_cursor(CursorType.COLOR16, width, 1, memoryview(
        struct.pack(f"<{width}H", *[rgb555] * width) + mask(row))).tolist()[0]
    assert out16[0] == 0xFFF88008 and out16[8] == CLEAR
    out24 = decode_cursor(CursorType.COLOR24, width, 1, memoryview(
        bytes([0x30, 0x20, 0x10] * width) + mask(row))).tolist()[0]
    assert out24[0] == 0xFF102030 and out24[8] == CLEAR
    out32 = decode_cursor(CursorType.COLOR32, width, 1, memoryview(
        struct.pack(f"<{width}I", *[0x00102030] * 8, 0xFFFFFF) + mask(row))).tolist()[0]
    assert out32[0] == 0xFF102030 and out32[8] == INV0  # masked white: "invert"


@pytest.mark.parametrize("kind", list(CursorType))
def test_truncated_data_is_refused(kind: CursorType) -> None:
    with pytest.raises(ProtocolError, match="truncated"):
        decode_cursor(kind, 32, 32, memoryview(bytes(100)))


def test_absurd_sizes_are_refused() -> None:
    with pytest.raises(ProtocolError, match="out of range"):
        decode_cursor(CursorType.ALPHA, 10000, 10000, memoryview(b""))


def alpha_cursor(unique: int, color: int, flags: int = CursorFlags.CACHE_ME) -> m.Cursor:
    return m.Cursor(flags, unique, CursorType.ALPHA, 2, 2, 1, 5,
                    memoryview(struct.pack("<4I", *[color] * 4)))


def states(events: list[ChannelEvent]) -> list[CursorState]:
    assert all(isinstance(e, CursorState) for e in events), events
    return [e for e in events if isinstance(e, CursorState)]


def linked() -> CursorChannel:
    channel = CursorChannel(0, 1, "pw")
    channel.initiate()
    channel.receive_data(link_reply())
    channel.receive_data(link_result())
    return channel


def test_set_cache_move_hide_reset() -> None:
    channel = linked()
    [state] = states(channel.receive_data(frame(m.CursorInit(m.Point16(5, 6), 0, 0, 1,
                                                             alpha_cursor(7, 0xFF0000FF)))))
    assert isinstance(state, CursorState) and state.visible and (state.x, state.y) == (5, 6)
    assert state.shape is not None and state.shape.hot_y == 1  # hot spot kept inside
    first = state.shape
    channel.receive_data(frame(m.CursorSet(m.Point16(5, 6), 1, alpha_cursor(8, 0xFF00FF00))))
    [state] = states(channel.receive_data(frame(m.CursorSet(
        m.Point16(1, 1), 1, m.Cursor(CursorFlags.FROM_CACHE, 7)))))
    assert state.shape is first
    [state] = states(channel.receive_data(frame(m.CursorMove(m.Point16(9, 9)))))
    assert (state.x, state.y, state.shape) == (9, 9, first)
    [state] = states(channel.receive_data(frame(m.CursorHide())))
    assert not state.visible
    assert channel.receive_data(frame(m.CursorHide())) == []  # no change, no event
    [state] = states(channel.receive_data(frame(m.CursorReset())))
    assert state.shape is None and channel.cache == {}


def test_bad_shapes_and_unknown_cache_entries_keep_the_current_cursor() -> None:
    channel = linked()
    [state] = states(channel.receive_data(frame(m.CursorSet(m.Point16(0, 0), 1,
                                                            alpha_cursor(1, 0xFFFFFFFF)))))
    good = state.shape
    channel.receive_data(frame(m.CursorInvalOne(1)))
    assert channel.cache == {}
    truncated = m.Cursor(0, 2, CursorType.ALPHA, 64, 64, 0, 0, memoryview(bytes(10)))
    events = channel.receive_data(frame(m.CursorSet(m.Point16(3, 3), 1, truncated)))
    assert [e.shape for e in events if isinstance(e, CursorState)] == [good]
    events = channel.receive_data(frame(m.CursorSet(
        m.Point16(3, 3), 1, m.Cursor(CursorFlags.FROM_CACHE, 1))))
    assert events == []  # same shape, same place: nothing new
    assert channel.state.shape is good
    assert good is not None and np.array_equal(good.pixels, np.full((2, 2), 0xFFFFFFFF, np.uint32))
