"""Corrupted display traffic fed through the real channel and canvas: the only outcome other
than drawing is a ProtocolError (which ends the session with exit 6), never a crash."""

from __future__ import annotations

import contextlib
import random

import numpy as np

from spicebox.canvas.canvas import Canvas
from spicebox.spice import messages as m
from spicebox.spice.constants import ClipType, ImageType, Ropd, SurfaceFlags
from spicebox.spice.display import DisplayChannel
from spicebox.spice.errors import ProtocolError
from spicebox.spice.policy import DecodingPolicy
from spicebox.spice.wire import Message

from .server_bytes import frame, link_reply, link_result
from .test_canvas import bitmap
from .test_codecs import lz4_image

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
    ]
    return [frame(msg) for msg in msgs]


def feed(stream: bytes) -> None:
    display = DisplayChannel(0, 1, "", DecodingPolicy())
    display.initiate()
    display.receive_data(link_reply() + link_result())
    canvas = Canvas()
    for event in display.receive_data(stream):
        if isinstance(event, Message):
            canvas.apply(event)


def test_valid_traffic_draws() -> None:
    feed(b"".join(valid_traffic()))


def test_corrupted_traffic_raises_only_protocol_errors() -> None:
    rng = random.Random(20261125)
    messages = valid_traffic()
    for _ in range(3000):
        damaged = [bytearray(msg) for msg in messages]
        target = rng.choice(damaged[1:])
        for _ in range(rng.randint(1, 4)):
            # Skip the 6-byte mini header: a wrong size only desynchronises the framer,
            # which the framing tests cover; here the message bodies are under attack.
            pos = rng.randrange(6, len(target))
            target[pos] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        with contextlib.suppress(ProtocolError):
            feed(b"".join(damaged))
