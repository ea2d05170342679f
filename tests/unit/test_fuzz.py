"""Corrupted display traffic fed through the real channel and canvas: the only outcome other
than drawing is a ProtocolError (which ends the session with exit 6), never a crash."""

from __future__ import annotations

import contextlib
import lzma
import random

import numpy as np

from spicebox.canvas.canvas import Canvas
from spicebox.canvas.composite import Op
from spicebox.codecs.lz import PLT8
from spicebox.spice import messages as m
from spicebox.spice.constants import (
    BitmapFlags,
    ChannelType,
    ClipType,
    CompositeFlags,
    ImageType,
    LineFlags,
    PathFlags,
    ResourceType,
    Ropd,
    StringFlags,
    SurfaceFlags,
)
from spicebox.spice.display import DisplayChannel
from spicebox.spice.errors import ProtocolError
from spicebox.spice.main import MainChannel
from spicebox.spice.policy import DecodingPolicy
from spicebox.spice.recording import read_recording
from spicebox.spice.wire import Message

from .replay import FIXTURES
from .server_bytes import frame, link_reply, link_result, raw_frame
from .test_canvas import bitmap, copy_of, indexed, mask_image
from .test_codecs import lz4_image
from .test_draw_ops import glyph, segment
from .test_jpeg import jpeg
from .test_lz import stream as lz_stream
from .test_pixmaps import cached, from_cache

LZ_TOKENS = bytes([1, 1, 0, 0x80, 0x01])

BOX = m.Rect(2, 3, 40, 50)


def valid_traffic() -> list[bytes]:
    pixels = np.arange(48 * 40, dtype=np.uint32).reshape(40, 48) * 2654435761 % 2**24
    lz4 = m.Image(m.ImageDescriptor(0, ImageType.LZ4, 0, 48, 40),
                  m.BinaryData(lz4_image(pixels.astype("<u4").tobytes(), 8, True, 999)))
    clip = m.Clip(ClipType.RECTS, (m.Rect(0, 0, 30, 30), m.Rect(20, 20, 64, 64)))
    msgs: list[Message] = [
        m.SurfaceCreate(0, 64, 48, 32, SurfaceFlags.PRIMARY),
        m.DrawCopy(m.DisplayBase(0, BOX, clip), bitmap(pixels[:38, :47].copy()),
                   m.Rect(0, 0, 38, 47), Ropd.OP_PUT, 0, m.NO_MASK),
        m.DrawCopy(m.DisplayBase(0, BOX, m.Clip(ClipType.NONE)), lz4, m.Rect(1, 1, 39, 48),
                   Ropd.OP_XOR, 0, m.NO_MASK),
        m.DrawFill(m.DisplayBase(0, BOX, clip), m.Brush(1, 0xFF00FF), Ropd.OP_PUT, m.NO_MASK),
        m.CopyBits(m.DisplayBase(0, m.Rect(0, 0, 30, 30), m.Clip(ClipType.NONE)),
                   m.Point(5, 5)),
        m.MonitorsConfig(1, 1, (m.Head(0, 0, 64, 48, 0, 0, 0),)),
        copy_of(indexed(BitmapFlags.PAL_CACHE_ME, m.Palette(77, (0x111111, 0x222222)))),
        copy_of(m.Image(m.ImageDescriptor(0, ImageType.LZ_PLT, 0, 4, 2), m.LzPltData(
            BitmapFlags.PAL_FROM_CACHE, None, 77, lz_stream(PLT8, 4, 2, 4, LZ_TOKENS)))),
        copy_of(indexed(BitmapFlags.PAL_FROM_CACHE, None, 77)),
        m.StreamCreate(0, 7, 1, 1, 0, 16, 8, 16, 8, m.Rect(10, 20, 26, 52),
                       m.Clip(ClipType.NONE)),
        m.StreamData(m.StreamDataHeader(7, 0), jpeg(16, 8, (255, 128, 0))),
        m.DrawTransparent(m.DisplayBase(0, BOX, clip), bitmap(pixels[:38, :47].copy()),
                          m.Rect(0, 0, 38, 47), 0, 0x123456),
        m.DrawAlphaBlend(m.DisplayBase(0, BOX, clip), 2, 200, bitmap(pixels[:38, :47].copy()),
                         m.Rect(0, 0, 38, 47)),
        m.DrawInvers(m.DisplayBase(0, BOX, clip), m.NO_MASK),
        m.DrawFill(m.DisplayBase(0, BOX, clip), m.Brush(1, 0xFF), Ropd.OP_PUT,
                   m.QMask(1, m.Point(3, 2), mask_image(["#.#.#", ".#.#.", "#####"]))),
        m.DrawRop3(m.DisplayBase(0, BOX, clip), bitmap(pixels[:38, :47].copy()),
                   m.Rect(0, 0, 38, 47), m.Brush(1, 0x00FF00), 0x66, 0, m.NO_MASK),
        m.DrawOpaque(m.DisplayBase(0, BOX, clip), bitmap(pixels[:38, :47].copy()),
                     m.Rect(0, 0, 38, 47), m.Brush(1, 0x00FF00), Ropd.OP_AND, 0, m.NO_MASK),
        m.DrawStroke(m.DisplayBase(0, BOX, clip),
                     m.Path((segment(PathFlags.BEGIN, (0, 0), (300, 160), (40, 500)),
                             segment(PathFlags.BEZIER | PathFlags.END, (90, 90), (10, 400),
                                     (600, 30)))),
                     m.LineAttr(LineFlags.STYLED, (32, 48)), m.Brush(1, 0xABCDEF),
                     Ropd.OP_XOR, Ropd.OP_PUT),
        m.DrawText(m.DisplayBase(0, BOX, clip),
                   m.String(StringFlags.RASTER_A4, (glyph(5, 9, [[15, 3, 0], [8, 8, 8]], 4),
                                                    glyph(9, 9, [[1, 15], [15, 1]], 4))),
                   m.Rect(3, 3, 20, 20), m.Brush(1, 0x123), m.Brush(1, 0x456), Ropd.OP_PUT,
                   Ropd.OP_PUT),
        m.DrawComposite(m.DisplayBase(0, BOX, clip), Op.OVER | CompositeFlags.HAS_MASK
                        | CompositeFlags.HAS_SRC_TRANSFORM | 1 << 8,
                        bitmap(pixels[:9, :7].copy()), bitmap(pixels[:5, :5].copy()),
                        m.Transform(2 << 16, 0, 3 << 16, 0, 1 << 15, 0), None,
                        m.Point16(1, 2), m.Point16(0, 1)),
        m.InvalPalette(77),
        copy_of(cached(bitmap(pixels[:4, :4].copy()), 5)),
        copy_of(from_cache(5, 4, 4)),
        m.InvalList((m.ResourceId(ResourceType.PIXMAP, 5),)),
        m.DisplayReset(),
    ]
    return [frame(msg) for msg in msgs]


def main_traffic() -> list[bytes]:
    msgs: list[Message] = [
        m.SetAck(1, 2), m.MainInit(1, 1, 3, 1, 1, 10, 99, 0),
        m.ChannelsList((m.ChannelId(2, 0), m.ChannelId(3, 0))),
        m.Notify(0, 1, 2, 3, memoryview(b"hello\0")), m.Ping(1, 2, memoryview(b"xyz")),
        m.MouseModeMsg(3, 2), m.MultiMediaTime(5), m.MainName(memoryview(b"vm\0")),
    ]
    return [frame(msg) for msg in msgs]


def feed(stream: bytes) -> None:
    display = DisplayChannel(0, 1, "", DecodingPolicy())
    display.initiate()
    display.receive_data(link_reply() + link_result())
    canvas = Canvas(pixmap_cache_pixels=4096, glz_window_pixels=1 << 20)
    for event in display.receive_data(stream):
        if isinstance(event, Message):
            canvas.apply(event)


def test_valid_traffic_draws() -> None:
    feed(b"".join(valid_traffic()))


def corrupt(rng: random.Random, messages: list[bytes], headers: bool) -> bytes:
    damaged = [bytearray(msg) for msg in messages]
    target = rng.choice([msg for msg in damaged[1:] if len(msg) > 6])
    for _ in range(rng.randint(1, 4)):
        # Mostly the bodies: a wrong header mostly just desynchronises the framer.
        pos = rng.randrange(0 if headers else 6, len(target))
        target[pos] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    return b"".join(damaged)


def feed_main(stream: bytes) -> None:
    main = MainChannel("")
    main.initiate()
    main.receive_data(link_reply() + link_result())
    main.receive_data(stream)


def recorded_traffic(name: str, count: int) -> list[bytes]:
    """The first ``count`` display messages of a recorded server."""
    data = lzma.decompress((FIXTURES / f"{name}.rec.xz").read_bytes())
    return [raw_frame(r.msg_type, bytes(r.body)) for r in read_recording(data)
            if r.channel_type == ChannelType.DISPLAY][:count]


def test_corrupted_glz_raises_only_protocol_errors() -> None:
    rng = random.Random(102)
    glz = recorded_traffic("glz", 12)
    feed(b"".join(glz))
    for i in range(300):
        with contextlib.suppress(ProtocolError):
            feed(corrupt(rng, glz, headers=i % 10 == 0))


def test_corrupted_traffic_raises_only_protocol_errors() -> None:
    rng = random.Random(20261125)
    display, main = valid_traffic(), main_traffic()
    feed_main(b"".join(main))
    for i in range(3000):
        # Every draw op runs each time the display traffic is fed: a third of the rounds
        # keeps the suite fast and still damages each message dozens of times.
        if i % 3 == 0:
            with contextlib.suppress(ProtocolError):
                feed(corrupt(rng, display, headers=i % 10 == 0))
        with contextlib.suppress(ProtocolError):
            feed_main(corrupt(rng, main, headers=i % 10 == 0))
