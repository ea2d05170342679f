"""Message framing after the link: mini headers (u16 type, u32 size) or full headers
(u64 serial, u16 type, u32 size, u32 sub-message list offset)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

from .errors import ProtocolError

MINI_HEADER = struct.Struct("<HI")
FULL_HEADER = struct.Struct("<QHII")
_SUB_LIST_SIZE = struct.Struct("<H")
_SUB_OFFSET = struct.Struct("<I")

# A primary surface of 8192x8192 XRGB pixels sent uncompressed is 256 MiB; nothing larger is
# legitimate, and refusing it keeps a hostile server from making us allocate without bound.
MAX_MESSAGE_SIZE = 256 * 1024 * 1024


class Frame(NamedTuple):
    type: int
    body: memoryview
    carried: bool = False  # a sub-message riding in front of another (full headers only)


class Framer:
    """Splits the byte stream into (type, body) pairs and frames outgoing messages."""

    def __init__(self, mini_header: bool) -> None:
        self.mini_header = mini_header
        self._header = MINI_HEADER if mini_header else FULL_HEADER
        self._buf = bytearray()  # headers, and messages that arrived whole
        # A message still arriving: its body is filled in place, so a big one (a 1080p
        # bitmap is 8 MiB) is neither accumulated and then copied out, nor reallocated
        # as it grows.
        self._body = bytearray()
        self._filled = 0
        self._pending: tuple[int, int] | None = None  # (type, sub-message list offset)
        self._serial = 0

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[Frame]:
        """Add received bytes and yield every complete message they finish."""
        view = memoryview(data)
        if self._pending is not None:
            take = min(len(view), len(self._body) - self._filled)
            self._body[self._filled:self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled < len(self._body):
                return
            (msg_type, sub_list), body = self._pending, memoryview(self._body)
            self._pending, self._body = None, bytearray()
            yield from _frames(msg_type, body, sub_list)
        self._buf += view
        header = self._header
        pos = 0
        buf = self._buf
        try:
            while len(buf) - pos >= header.size:
                if self.mini_header:
                    msg_type, size = header.unpack_from(buf, pos)
                    sub_list = 0
                else:
                    _serial, msg_type, size, sub_list = header.unpack_from(buf, pos)
                if size > MAX_MESSAGE_SIZE:
                    raise ProtocolError(f"message of type {msg_type} claims {size} bytes, "
                                        f"more than the {MAX_MESSAGE_SIZE}-byte limit")
                start = pos + header.size
                end = start + size
                if len(buf) < end:
                    self._body = bytearray(size)
                    self._filled = len(buf) - start
                    self._body[:self._filled] = memoryview(buf)[start:]
                    self._pending = (msg_type, sub_list)
                    pos = len(buf)
                    break
                # Copy out the body: the buffer is compacted below, and decoded messages keep
                # memoryviews into their body for zero-copy pixel data.
                body = memoryview(bytes(memoryview(buf)[start:end]))
                pos = end
                yield from _frames(msg_type, body, sub_list)
        finally:
            del buf[:pos]

    def frame(self, msg_type: int, body: bytes) -> bytes:
        if self.mini_header:
            return MINI_HEADER.pack(msg_type, len(body)) + body
        self._serial += 1
        return FULL_HEADER.pack(self._serial, msg_type, len(body), 0) + body


def _frames(msg_type: int, body: memoryview, sub_list: int) -> Iterator[Frame]:
    if sub_list:
        yield from _sub_messages(body, sub_list)
    yield Frame(msg_type, body)


def _sub_messages(body: memoryview, offset: int) -> Iterator[Frame]:
    """Sub-messages ride in front of their carrier with full headers (old servers only)."""
    try:
        (count,) = _SUB_LIST_SIZE.unpack_from(body, offset)
        for i in range(count):
            (sub,) = _SUB_OFFSET.unpack_from(body, offset + 2 + 4 * i)
            msg_type, size = MINI_HEADER.unpack_from(body, sub)
            start = sub + MINI_HEADER.size
            if start + size > len(body):
                raise ProtocolError("sub-message runs past the end of its message")
            yield Frame(msg_type, body[start:start + size], carried=True)
    except struct.error as exc:
        raise ProtocolError(f"malformed sub-message list: {exc}") from None
