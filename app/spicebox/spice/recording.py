"""Recordings of what a server sent: the fixtures of the codec and canvas tests.

``spicebox connect --record FILE`` writes every message the display channels receive, as
framed (after the link, before decoding), so a test can replay a real server's bytes
through the decoders without a server. The format is a magic line, then per message:
u8 channel type, u8 channel id, u16 message type, u32 body length (little-endian), body.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import ProtocolError

MAGIC = b"SPICEBOX-RECORDING 1\n"
_RECORD = struct.Struct("<BBHI")


@dataclass(frozen=True, slots=True)
class Record:
    channel_type: int
    channel_id: int
    msg_type: int
    body: memoryview


class Recorder:
    def __init__(self, path: Path) -> None:
        self._file: BinaryIO = path.open("wb")
        self._file.write(MAGIC)

    def write(self, channel_type: int, channel_id: int, msg_type: int, body: memoryview) -> None:
        self._file.write(_RECORD.pack(channel_type, channel_id, msg_type, len(body)))
        self._file.write(body)

    def close(self) -> None:
        self._file.close()


def read_recording(recording: bytes) -> Iterator[Record]:
    """The records of a recording's contents."""
    data = memoryview(recording)
    if data[:len(MAGIC)] != MAGIC:
        raise ProtocolError("not a spicebox recording")
    pos = len(MAGIC)
    while pos < len(data):
        if pos + _RECORD.size > len(data):
            raise ProtocolError("recording ends inside a record header")
        channel_type, channel_id, msg_type, size = _RECORD.unpack_from(data, pos)
        pos += _RECORD.size
        if pos + size > len(data):
            raise ProtocolError("recording ends inside a message")
        yield Record(channel_type, channel_id, msg_type, data[pos:pos + size])
        pos += size
