"""Message framing after the link: mini headers (u16 type, u32 size) or full headers
(u64 serial, u16 type, u32 size, u32 sub-message list offset)."""

from __future__ import annotations

import struct
from typing import NamedTuple

from .errors import ProtocolError

MINI_HEADER = struct.Struct("<HI")
FULL_HEADER = struct.Struct("<QHII")
_SUB_LIST_SIZE = struct.Struct("<H")
_SUB_OFFSET = struct.Struct("<I")

# A primary surface of 8192x8192 XRGB pixels sent uncompressed is 256 MiB; nothing larger is
# legitimate, and refusing it keeps a hostile server from making us allocate without bound.
MAX_MESSAGE_SIZE = 256 * 1024 * 1024


# Received bytes land in a buffer of this size (asyncio's own read size), and a message
# that will not fit in what is left of it gets a buffer of its own.
BUFFER_SIZE = 256 * 1024
# A message bigger than this (a quarter of the buffer) that has only partly arrived is
# moved to a buffer of its own and received straight into it: the rest of a large bitmap
# is never copied again. A smaller one is moved to the front of the buffer, where it fits.
LARGE_MESSAGE = 64 * 1024


class Frame(NamedTuple):
    type: int
    body: memoryview
    carried: bool = False  # a sub-message riding in front of another (full headers only)


class Framer:
    """Splits the byte stream into (type, body) pairs and frames outgoing messages.

    Bytes are received into ``buffer()`` and announced with ``filled(n)`` (asyncio's
    BufferedProtocol): a socket read is then the only copy of a large message, and one
    more (its body, copied out) of a small one. ``feed`` takes bytes received elsewhere.
    """

    def __init__(self, mini_header: bool) -> None:
        self.mini_header = mini_header
        self._header = MINI_HEADER if mini_header else FULL_HEADER
        self._buf = bytearray(BUFFER_SIZE)
        self._start = 0  # the first byte not yet parsed
        self._end = 0  # the end of the bytes received
        # A large message still arriving: its body is filled in place, so a big one (a
        # 1080p bitmap is 8 MiB) is neither accumulated and then copied out, nor
        # reallocated as it grows.
        self._body: bytearray | None = None
        self._filled = 0
        self._pending = (0, 0)  # the large message's (type, sub-message list offset)
        self._serial = 0

    def buffer(self) -> memoryview:
        """Where the next received bytes go; never empty."""
        if self._body is not None:
            return memoryview(self._body)[self._filled:]
        return memoryview(self._buf)[self._end:]

    def filled(self, n: int) -> list[Frame]:
        """The messages completed by ``n`` bytes just written into ``buffer()``."""
        if self._body is not None:
            self._filled += n
            if self._filled < len(self._body):
                return []
            body, (msg_type, sub_list) = memoryview(self._body), self._pending
            self._body = None
            return _frames(msg_type, body, sub_list)
        frames: list[Frame] = []
        buf, header = self._buf, self._header
        pos, end = self._start, self._end + n
        while end - pos >= header.size:
            if self.mini_header:
                msg_type, size = header.unpack_from(buf, pos)
                sub_list = 0
            else:
                _serial, msg_type, size, sub_list = header.unpack_from(buf, pos)
            if size > MAX_MESSAGE_SIZE:
                raise ProtocolError(f"message of type {msg_type} claims {size} bytes, "
                                    f"more than the {MAX_MESSAGE_SIZE}-byte limit")
            start = pos + header.size
            stop = start + size
            if stop > end:
                if size > LARGE_MESSAGE:
                    self._body = bytearray(size)
                    self._filled = end - start
                    self._body[:self._filled] = memoryview(buf)[start:end]
                    self._pending = (msg_type, sub_list)
                    pos = end
                break
            # Copy out the body: the buffer is reused, and decoded messages keep
            # memoryviews into their body for zero-copy pixel data.
            frames += _frames(msg_type, memoryview(bytes(memoryview(buf)[start:stop])),
                              sub_list)
            pos = stop
        if pos == end:
            pos = end = 0
        elif pos:  # keep a message's beginning at the front, with room for its rest
            buf[:end - pos] = memoryview(buf)[pos:end]
            pos, end = 0, end - pos
        self._start, self._end = pos, end
        return frames

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """The messages completed by bytes received elsewhere."""
        view = memoryview(data)
        frames: list[Frame] = []
        while view:
            target = self.buffer()
            n = min(len(target), len(view))
            target[:n] = view[:n]
            view = view[n:]
            frames += self.filled(n)
        return frames

    def frame(self, msg_type: int, body: bytes) -> bytes:
        if self.mini_header:
            return MINI_HEADER.pack(msg_type, len(body)) + body
        self._serial += 1
        return FULL_HEADER.pack(self._serial, msg_type, len(body), 0) + body


def _frames(msg_type: int, body: memoryview, sub_list: int) -> list[Frame]:
    if sub_list:
        return [*_sub_messages(body, sub_list), Frame(msg_type, body)]
    return [Frame(msg_type, body)]


def _sub_messages(body: memoryview, offset: int) -> list[Frame]:
    """Sub-messages ride in front of their carrier with full headers (old servers only)."""
    try:
        (count,) = _SUB_LIST_SIZE.unpack_from(body, offset)
        frames = []
        for i in range(count):
            (sub,) = _SUB_OFFSET.unpack_from(body, offset + 2 + 4 * i)
            msg_type, size = MINI_HEADER.unpack_from(body, sub)
            start = sub + MINI_HEADER.size
            if start + size > len(body):
                raise ProtocolError("sub-message runs past the end of its message")
            frames.append(Frame(msg_type, body[start:start + size], carried=True))
    except struct.error as exc:
        raise ProtocolError(f"malformed sub-message list: {exc}") from None
    return frames
