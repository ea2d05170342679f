"""Replays a recorded server (tests/fixtures/*.rec.xz) through the decoders and a canvas."""

from __future__ import annotations

import lzma
from collections.abc import Callable
from pathlib import Path

from spicebox.canvas.canvas import Canvas
from spicebox.spice.recording import read_recording
from spicebox.spice.wire import SERVER, Message, decode, lookup

FIXTURES = Path(__file__).parent.parent / "fixtures"


def replay(name: str, canvas: Canvas | None = None,
           transform: Callable[[Message], Message] = lambda msg: msg) -> Canvas:
    """Apply every message of fixture ``name``, after ``transform``, to ``canvas`` (a new
    one by default)."""
    canvas = canvas or Canvas()
    for record in read_recording(lzma.decompress((FIXTURES / f"{name}.rec.xz").read_bytes())):
        spec = lookup(SERVER, record.channel_type, record.msg_type)
        if spec is not None:
            canvas.apply(transform(decode(spec.cls, record.body)))
    return canvas
