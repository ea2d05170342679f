from __future__ import annotations

import contextlib
import dataclasses
import random
import typing
from typing import Any

import pytest

from spicebox.spice import messages as m
from spicebox.spice.constants import (
    BitmapFlags,
    BitmapFormat,
    BrushType,
    ClipType,
    CompositeFlags,
    CursorFlags,
    CursorType,
    ImageType,
    LineFlags,
    PathFlags,
    StringFlags,
)
from spicebox.spice.errors import ProtocolError
from spicebox.spice.framing import Framer
from spicebox.spice.wire import (
    U32,
    Array,
    Blob,
    Prim,
    Ptr,
    Rest,
    all_messages,
    codec_of,
    decode,
    encode,
    wire_struct,
)

RECT = m.Rect(1, 2, 30, 40)
BITMAP_IMAGE = m.Image(m.ImageDescriptor(7, ImageType.BITMAP, 0, 2, 2),
                       m.BitmapData(BitmapFormat.BIT32, BitmapFlags.TOP_DOWN, 2, 2, 8,
                                    m.Palette(3, (1, 2)), 0, memoryview(bytes(range(16)))))
CUSTOM_SAMPLES: dict[type, Any] = {
    m.Clip: m.Clip(ClipType.RECTS, (RECT, m.Rect(0, 0, 1, 1))),
    m.Brush: m.Brush(BrushType.SOLID, color=0x00FF8000),
    m.Image: BITMAP_IMAGE,
    m.PathSegment: m.PathSegment(PathFlags.BEGIN, memoryview(bytes(range(16)))),
    m.LineAttr: m.LineAttr(LineFlags.STYLED, (16, -32, 48)),
    m.String: m.String(StringFlags.RASTER_A4, (
        m.RasterGlyph(m.Point(1, 2), m.Point(-1, -9), 3, 2, memoryview(b"\x12\x34\x56\x78")),
        m.RasterGlyph(m.Point(9, 2), m.Point(0, -9), 1, 1, memoryview(b"\xf0")))),
    m.Cursor: m.Cursor(CursorFlags.CACHE_ME, 2**40 + 1, CursorType.ALPHA, 2, 1, 1, 0,
                       memoryview(bytes(range(8)))),
    m.DrawComposite: m.DrawComposite(
        m.DisplayBase(0, RECT, m.Clip(ClipType.NONE)),
        3 | CompositeFlags.HAS_MASK | CompositeFlags.HAS_SRC_TRANSFORM
        | CompositeFlags.HAS_MASK_TRANSFORM, BITMAP_IMAGE, BITMAP_IMAGE,
        m.Transform(1 << 16, 0, 5, 0, 1 << 16, 0xFFFF0000), m.Transform(2, 3, 4, 5, 6, 7),
        m.Point16(-3, 4), m.Point16(5, -6)),
}


def sample(hint: Any) -> Any:
    """A non-trivial value of any wire type, so every field takes part in the round trip."""
    if hint in CUSTOM_SAMPLES:
        return CUSTOM_SAMPLES[hint]
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, Prim):
            return {"B": 0xA5, "H": 0xBEEF, "I": 0xDEADBEEF, "Q": 2**40 + 3, "h": -7,
                    "i": -5, "q": -(2**40)}[meta.fmt]
        if isinstance(meta, Rest | Blob):
            return memoryview(b"payload\0")
        if isinstance(meta, Array):
            return (sample(meta.element_type), sample(meta.element_type))
        if isinstance(meta, Ptr):
            return sample(meta.target_type)
    hints = typing.get_type_hints(hint, include_extras=True)
    return hint(**{f.name: sample(hints[f.name]) for f in dataclasses.fields(hint)})


SPECS = sorted(all_messages(), key=lambda s: (s.direction, s.channel, s.number))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.cls.__name__)
def test_every_message_round_trips(spec: Any) -> None:
    if spec.cls is m.MonitorsConfig:
        msg: Any = m.MonitorsConfig(2, 4, (m.Head(0, 0, 640, 480, 0, 0, 0),
                                           m.Head(1, 0, 640, 480, 640, 0, 0)))
    else:
        msg = sample(spec.cls)
    assert decode(spec.cls, encode(msg)) == msg


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.cls.__name__)
def test_truncation_and_garbage_give_protocol_errors_only(spec: Any) -> None:
    data = encode(sample(spec.cls)) if spec.cls is not m.MonitorsConfig else b"\x05\0\0\0"
    rng = random.Random(spec.number)
    inputs = [data[:n] for n in range(len(data))]
    inputs += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(64))) for _ in range(50)]
    for body in inputs:
        with contextlib.suppress(ProtocolError):
            decode(spec.cls, body)


def test_flag_tests_on_the_drawing_path_give_plain_ints() -> None:
    assert type(5 & BitmapFlags.TOP_DOWN) is int and 5 & BitmapFlags.TOP_DOWN == 4
    assert type(BitmapFlags.TOP_DOWN & 6) is int and not 1 & BitmapFlags.TOP_DOWN
    combined = BitmapFlags.TOP_DOWN | BitmapFlags.PAL_FROM_CACHE  # still a flag
    assert isinstance(combined, BitmapFlags) and BitmapFlags.TOP_DOWN in combined


def test_structures_compare_and_hash_by_value() -> None:
    assert m.Rect(1, 2, 3, 4) == m.Rect(1, 2, 3, 4) != m.Rect(1, 2, 3, 5)
    assert len({m.Rect(1, 2, 3, 4), m.Rect(1, 2, 3, 4), m.Point(1, 2)}) == 2


@wire_struct
class _Extended(m.Point):  # x and y are declared by Point, in another module
    z: U32


def test_a_structure_that_inherits_fields_is_refused() -> None:
    with pytest.raises(TypeError, match="declares its fields itself"):
        codec_of(_Extended)


def test_draw_copy_pointer_layout() -> None:
    msg = m.DrawCopy(m.DisplayBase(0, RECT, m.Clip(ClipType.NONE)), BITMAP_IMAGE,
                     m.Rect(0, 0, 2, 2), 8, 0, m.NO_MASK)
    body = encode(msg)
    # base: surface u32, rect 16, clip type u8 = 21 bytes; then the image pointer.
    (offset,) = memoryview(body)[21:25].cast("I")
    assert offset == 21 + 4 + 16 + 2 + 1 + 13  # fixed part ends where the image begins
    decoded = decode(m.DrawCopy, body)
    assert decoded.src_bitmap is not None and decoded.src_bitmap.payload is not None
    assert decoded == msg


def test_pointer_outside_message() -> None:
    body = bytearray(encode(m.DrawCopy(m.DisplayBase(0, RECT, m.Clip(ClipType.NONE)),
                                       BITMAP_IMAGE, RECT, 8, 0, m.NO_MASK)))
    body[21:25] = (10**6).to_bytes(4, "little")
    with pytest.raises(ProtocolError, match="pointer"):
        decode(m.DrawCopy, bytes(body))


def test_huge_array_count_is_refused_before_allocating() -> None:
    # 100 resources need 900 bytes: 100 bytes would pass a one-byte-per-element guess.
    with pytest.raises(ProtocolError, match="cannot fit"):
        decode(m.InvalList, (100).to_bytes(2, "little") + bytes(100))
    with pytest.raises(ProtocolError, match="allowed"):
        decode(m.ChannelsList, (2**31).to_bytes(4, "little") + b"\1\0")


def test_framer_reassembles_split_messages() -> None:
    framer = Framer(mini_header=True)
    stream = framer.frame(3, b"abc") + framer.frame(4, b"") + framer.frame(5, b"x" * 1000)
    got = []
    for i in range(len(stream)):
        got += [(t, bytes(b)) for t, b, _ in framer.feed(stream[i:i + 1])]
    assert got == [(3, b"abc"), (4, b""), (5, b"x" * 1000)]


@pytest.mark.parametrize("mini_header", [True, False])
def test_framer_gives_the_same_messages_however_the_stream_is_cut(mini_header: bool) -> None:
    rng = random.Random(4)
    sender = Framer(mini_header)
    sizes = [0, 1, 5, 300, 70000, 2, 200000, 3]
    messages = [(i, rng.randbytes(size)) for i, size in enumerate(sizes)]
    stream = b"".join(sender.frame(t, body) for t, body in messages)
    for _ in range(20):
        framer, got, pos = Framer(mini_header), [], 0
        while pos < len(stream):
            step = rng.choice([1, 7, 4096, 65536, 300000])
            got += [(t, bytes(b)) for t, b, _ in framer.feed(stream[pos:pos + step])]
            pos += step
        assert got == messages


@pytest.mark.parametrize("mini_header", [True, False])
def test_framer_reading_into_its_buffer_gives_the_same_messages(mini_header: bool) -> None:
    rng = random.Random(5)
    sender = Framer(mini_header)
    sizes = [0, 1, 5, 300, 70000, 2, 200000, 3, 65536, 65537, 262144, 4]
    messages = [(i, rng.randbytes(size)) for i, size in enumerate(sizes)]
    stream = b"".join(sender.frame(t, body) for t, body in messages)
    for _ in range(20):
        framer, got, pos = Framer(mini_header), [], 0
        while pos < len(stream):
            target = framer.buffer()
            assert len(target) > 0
            n = min(len(target), len(stream) - pos, rng.choice([1, 7, 4096, 65536, 300000]))
            target[:n] = stream[pos:pos + n]
            pos += n
            got += framer.filled(n)
        # Bodies are compared only now: reusing the buffer must not have changed them.
        assert [(t, bytes(b)) for t, b, _ in got] == messages


def test_the_rest_of_a_large_message_is_read_into_its_own_buffer() -> None:
    body = bytes(range(256)) * 1024
    stream = Framer(mini_header=True).frame(9, body)
    framer = Framer(mini_header=True)
    framer.buffer()[:1000] = stream[:1000]
    assert framer.filled(1000) == []
    rest = framer.buffer()
    assert len(rest) == len(stream) - 1000  # the body's remainder, nothing to copy later
    rest[:] = stream[1000:]
    [(msg_type, received, _)] = framer.filled(len(rest))
    assert msg_type == 9 and received == body


def test_framer_full_header_and_sub_messages() -> None:
    framer = Framer(mini_header=False)
    sub = (7).to_bytes(2, "little") + (2).to_bytes(4, "little") + b"hi"
    body = b"main" + sub + (1).to_bytes(2, "little") + (4).to_bytes(4, "little")
    header = (1).to_bytes(8, "little") + (9).to_bytes(2, "little") + \
        len(body).to_bytes(4, "little") + (4 + len(sub)).to_bytes(4, "little")
    assert [(t, bytes(b), c) for t, b, c in framer.feed(header + body)] == [
        (7, b"hi", True), (9, body, False)]


def test_framer_refuses_absurd_sizes() -> None:
    with pytest.raises(ProtocolError, match="limit"):
        list(Framer(mini_header=True).feed(b"\1\0\xff\xff\xff\xff"))


BLOB = memoryview(b"compressed")
PAYLOADS: list[tuple[int, Any]] = [
    (ImageType.BITMAP, BITMAP_IMAGE.payload),
    (ImageType.LZ_PLT, m.LzPltData(BitmapFlags.PAL_FROM_CACHE, None, 99, BLOB)),
    (ImageType.LZ_PLT, m.LzPltData(0, m.Palette(4, (1, 2, 3)), 0, BLOB)),
    (ImageType.QUIC, m.BinaryData(BLOB)), (ImageType.LZ_RGB, m.BinaryData(BLOB)),
    (ImageType.GLZ_RGB, m.BinaryData(BLOB)), (ImageType.JPEG, m.BinaryData(BLOB)),
    (ImageType.LZ4, m.BinaryData(BLOB)), (ImageType.ZLIB_GLZ_RGB, m.ZlibGlzData(5, BLOB)),
    (ImageType.JPEG_ALPHA, m.JpegAlphaData(1, 4, BLOB)), (ImageType.SURFACE, m.SurfaceImage(3)),
    (ImageType.FROM_CACHE, None), (ImageType.FROM_CACHE_LOSSLESS, None),
]


@pytest.mark.parametrize(("image_type", "payload"), PAYLOADS)
def test_every_image_type_round_trips_inside_a_copy(image_type: int, payload: Any) -> None:
    image = m.Image(m.ImageDescriptor(1, image_type, 0, 2, 2), payload)
    msg = m.DrawCopy(m.DisplayBase(0, RECT, m.Clip(ClipType.NONE)), image, RECT, 8, 0,
                     m.NO_MASK)
    assert decode(m.DrawCopy, encode(msg)) == msg


def test_golden_bytes_from_spice_proto() -> None:
    """Layouts written out by hand from spice.proto, independent of the table."""
    assert encode(m.DisplayInit(1, 0, 1, 0)) == bytes([1]) + bytes(8) + bytes([1]) + bytes(4)
    assert encode(m.PreferredCompression(7)) == b"\x07"
    assert encode(m.Pong(1, 2)) == b"\x01\0\0\0" + b"\x02" + bytes(7)
    assert decode(m.MainInit, bytes(range(32))) == m.MainInit(
        *[int.from_bytes(bytes(range(i, i + 4)), "little") for i in range(0, 32, 4)])
    assert decode(m.SurfaceCreate, bytes([1, 0, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 32, 0, 0, 0,
                                          1, 0, 0, 0])) == m.SurfaceCreate(1, 1024, 768, 32, 1)
    assert decode(m.Notify, bytes(8) + b"\2\0\0\0" + b"\1\0\0\0" + b"\0\0\0\0" + b"\3\0\0\0abc"
                  ).text.tobytes() == b"abc"
    # Head: id, surface_id, width, height, x, y, flags; after count u16 and max_allowed u16.
    heads = decode(m.MonitorsConfig, b"\1\0\4\0" + bytes(8) + b"\x80\2\0\0\xe0\1\0\0" + bytes(12))
    assert heads.heads == (m.Head(0, 0, 640, 480, 0, 0, 0),)


def fix(*values: int) -> memoryview:
    """PointFix pairs as the wire holds them."""
    return memoryview(b"".join(v.to_bytes(4, "little", signed=True) for v in values))


STROKE = m.DrawStroke(m.DisplayBase(0, RECT, m.Clip(ClipType.NONE)),
                      m.Path((m.PathSegment(PathFlags.BEGIN | PathFlags.END, fix(16, 32, 48, 64)),
                              m.PathSegment(PathFlags.BEGIN, fix()))),
                      m.LineAttr(LineFlags.STYLED | LineFlags.START_WITH_GAP, (32, 16)),
                      m.Brush(BrushType.SOLID, 0x123456), 8, 8)


def test_stroke_layout_from_spice_proto() -> None:
    body = encode(STROKE)
    # base 21, path pointer 4, attr: flags, nseg, style pointer; brush: type, color; modes.
    assert len(body[21:25]) == 4 and body[25:27] == bytes([0x0C, 2])
    path_at = int.from_bytes(body[21:25], "little")
    style_at = int.from_bytes(body[27:31], "little")
    assert body[31:36] == b"\x01\x56\x34\x12\x00" and body[36:40] == b"\x08\0\x08\0"
    assert path_at == 40  # pointed-to data follows the fixed part, in field order
    assert body[path_at:path_at + 9] == b"\x02\0\0\0\x03\x02\0\0\0"  # 2 segments, ...
    assert style_at == path_at + 4 + (5 + 16) + 5
    assert body[style_at:] == b"\x20\0\0\0\x10\0\0\0"
    assert decode(m.DrawStroke, body) == STROKE


def test_styled_line_with_null_style_decodes_to_none() -> None:
    body = bytearray(encode(STROKE))
    body[27:31] = bytes(4)
    assert decode(m.DrawStroke, bytes(body)).attr.style is None


def test_plain_line_attr_is_one_byte() -> None:
    plain = dataclasses.replace(STROKE, attr=m.LineAttr(0))
    body = encode(plain)
    assert body[25:26] == b"\0" and body[26] == BrushType.SOLID
    assert decode(m.DrawStroke, body) == plain


def test_path_point_count_beyond_the_message_is_refused() -> None:
    body = bytearray(encode(STROKE))
    path_at = int.from_bytes(body[21:25], "little")
    body[path_at + 5:path_at + 9] = (1 << 30).to_bytes(4, "little")
    with pytest.raises(ProtocolError, match="path points"):
        decode(m.DrawStroke, bytes(body))


def test_text_glyph_sizes_follow_the_depth() -> None:
    """image_size(bpp, width, height): A1 rows round up to bytes, A8 rows are width bytes."""
    glyph = (bytes(8) + (3).to_bytes(4, "little") + (0).to_bytes(4, "little")
             + (9).to_bytes(2, "little") + (2).to_bytes(2, "little"))
    for flags, size in ((StringFlags.RASTER_A1, 4), (StringFlags.RASTER_A4, 10),
                        (StringFlags.RASTER_A8, 18)):
        string = b"\1\0" + bytes([flags]) + glyph + bytes(range(size))
        head = bytearray(encode(m.DrawText(m.DisplayBase(0, RECT, m.Clip(ClipType.NONE)), None,
                                           RECT, m.Brush(BrushType.NONE),
                                           m.Brush(BrushType.NONE), 8, 8)))
        head[21:25] = len(head).to_bytes(4, "little")
        text = decode(m.DrawText, bytes(head) + string)
        assert text.string is not None
        (g,) = text.string.glyphs
        assert (g.width, g.height, g.glyph_origin, bytes(g.data)) == \
            (9, 2, m.Point(3, 0), bytes(range(size)))


def test_vector_strings_carry_no_glyphs() -> None:
    string = m.String(0, ())
    text = m.DrawText(m.DisplayBase(0, RECT, m.Clip(ClipType.NONE)), string, RECT,
                      m.Brush(BrushType.NONE), m.Brush(BrushType.NONE), 8, 8)
    assert decode(m.DrawText, encode(text)).string == string


def test_composite_optional_fields_follow_the_flags() -> None:
    plain = m.DrawComposite(m.DisplayBase(0, RECT, m.Clip(ClipType.NONE)), 3, BITMAP_IMAGE,
                            None, None, None, m.Point16(1, 2), m.Point16(3, 4))
    body = encode(plain)
    # base 21, flags 4, src pointer 4, then the two Point16 origins: no mask, no transforms.
    assert body[29:37] == b"\1\0\2\0\3\0\4\0"
    assert int.from_bytes(body[25:29], "little") == 37
    assert decode(m.DrawComposite, body) == plain
    masked = dataclasses.replace(plain, flags=3 | CompositeFlags.HAS_SRC_TRANSFORM,
                                 src_transform=m.Transform(1, 2, 3, 4, 5, 6))
    body = encode(masked)
    assert body[29:53] == b"".join(v.to_bytes(4, "little") for v in (1, 2, 3, 4, 5, 6))
    assert decode(m.DrawComposite, body) == masked
