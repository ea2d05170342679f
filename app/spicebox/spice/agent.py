"""The guest agent's protocol (spice-vdagent), carried in the main channel's AGENT_DATA.

Both ways, the agent's messages (a 20-byte VDAgentMessage header and its data) form one
byte stream cut into AGENT_DATA pieces of at most 2048 bytes, in no relation to message
boundaries. Sending costs one token per piece; the server hands tokens out. Pure: the
main channel feeds pieces in and takes pieces out.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

from .errors import ProtocolError

PROTOCOL = 1
MAX_CHUNK = 2048
# Clipboard images are the largest thing an agent sends; 64 MiB is a 4K screenshot as
# an uncompressed bitmap, twice over. Anything larger is refused before it is buffered.
MAX_MESSAGE = 64 * 1024 * 1024
_HEADER = struct.Struct("<IIQI")


class AgentType(IntEnum):
    MOUSE_STATE = 1
    MONITORS_CONFIG = 2
    REPLY = 3
    CLIPBOARD = 4
    DISPLAY_CONFIG = 5
    ANNOUNCE_CAPABILITIES = 6
    CLIPBOARD_GRAB = 7
    CLIPBOARD_REQUEST = 8
    CLIPBOARD_RELEASE = 9
    FILE_XFER_START = 10
    FILE_XFER_STATUS = 11
    FILE_XFER_DATA = 12
    CLIENT_DISCONNECTED = 13
    MAX_CLIPBOARD = 14
    AUDIO_VOLUME_SYNC = 15
    GRAPHICS_DEVICE_INFO = 16


class AgentCap(IntEnum):
    MOUSE_STATE = 0
    MONITORS_CONFIG = 1
    REPLY = 2
    CLIPBOARD = 3
    DISPLAY_CONFIG = 4
    CLIPBOARD_BY_DEMAND = 5
    CLIPBOARD_SELECTION = 6
    SPARSE_MONITORS_CONFIG = 7
    GUEST_LINEEND_LF = 8
    GUEST_LINEEND_CRLF = 9
    MAX_CLIPBOARD = 10
    AUDIO_VOLUME_SYNC = 11
    MONITORS_CONFIG_POSITION = 12


MONITORS_USE_POS = 1
SELECTION_CLIPBOARD = 0  # PRIMARY (1) and SECONDARY (2) are X's; a thin client has none


class ClipboardType(IntEnum):
    NONE = 0
    UTF8_TEXT = 1
    IMAGE_PNG = 2
    IMAGE_BMP = 3
    IMAGE_TIFF = 4
    IMAGE_JPG = 5


@dataclass(frozen=True)
class AgentMessage:
    type: int
    data: bytes
    opaque: int = 0


def encode_message(msg: AgentMessage) -> bytes:
    return _HEADER.pack(PROTOCOL, msg.type, msg.opaque, len(msg.data)) + msg.data


def chunks(data: bytes) -> list[bytes]:
    """``data`` (whole messages) cut into AGENT_DATA pieces."""
    return [data[i:i + MAX_CHUNK] for i in range(0, len(data), MAX_CHUNK)]


class AgentStream:
    """Reassembles the agent's messages from AGENT_DATA pieces."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, piece: bytes | memoryview) -> list[AgentMessage]:
        self._buf += piece
        found = []
        while len(self._buf) >= _HEADER.size:
            protocol, kind, opaque, size = _HEADER.unpack_from(self._buf)
            if protocol != PROTOCOL:
                raise ProtocolError(f"agent message of protocol {protocol}, not {PROTOCOL}")
            if size > MAX_MESSAGE:
                raise ProtocolError(f"agent message of {size} bytes, more than the "
                                    f"{MAX_MESSAGE}-byte limit")
            end = _HEADER.size + size
            if len(self._buf) < end:
                break
            found.append(AgentMessage(kind, bytes(self._buf[_HEADER.size:end]), opaque))
            del self._buf[:end]
        return found

    def reset(self) -> None:
        self._buf.clear()


class AgentOutbox:
    """Pieces waiting for tokens."""

    def __init__(self) -> None:
        self.tokens = 0
        self._queue: deque[bytes] = deque()

    def put(self, msg: AgentMessage) -> None:
        self._queue.extend(chunks(encode_message(msg)))

    def take(self) -> list[bytes]:
        """The pieces the current tokens allow."""
        out = []
        while self.tokens > 0 and self._queue:
            self.tokens -= 1
            out.append(self._queue.popleft())
        return out

    def clear(self) -> None:
        self._queue.clear()


def capabilities(caps: set[AgentCap] | frozenset[AgentCap], request: bool) -> AgentMessage:
    words = [0] * (max(caps, default=0) // 32 + 1)
    for cap in caps:
        words[cap // 32] |= 1 << (cap % 32)
    return AgentMessage(AgentType.ANNOUNCE_CAPABILITIES,
                        struct.pack(f"<I{len(words)}I", int(request), *words))


def parse_capabilities(data: bytes) -> tuple[bool, frozenset[int]]:
    """(whether the sender asks for ours, the capability numbers it has)."""
    if len(data) < 4:
        raise ProtocolError("agent capabilities shorter than their header")
    (request,) = struct.unpack_from("<I", data)
    words = struct.unpack_from(f"<{(len(data) - 4) // 4}I", data, 4)
    found = frozenset(i * 32 + bit for i, word in enumerate(words) for bit in range(32)
                      if word >> bit & 1)
    return bool(request), found


def monitors_config(sizes: list[tuple[int, int, int, int]]) -> AgentMessage:
    """MONITORS_CONFIG for monitors given as (x, y, width, height), 32 bits deep."""
    body = struct.pack("<II", len(sizes), MONITORS_USE_POS)
    for x, y, width, height in sizes:
        body += struct.pack("<IIIii", height, width, 32, x, y)
    return AgentMessage(AgentType.MONITORS_CONFIG, body)


# --- clipboard: with CLIPBOARD_SELECTION on both sides, every clipboard message starts
# with the selection (one byte, three reserved); without it there is only CLIPBOARD.


def clipboard_message(kind: AgentType, selection: bool, body: bytes = b"") -> AgentMessage:
    prefix = struct.pack("<B3x", SELECTION_CLIPBOARD) if selection else b""
    return AgentMessage(kind, prefix + body)


def parse_clipboard(data: bytes, selection: bool) -> tuple[int, bytes]:
    """(selection, the rest) of a clipboard message."""
    if not selection:
        return SELECTION_CLIPBOARD, data
    if len(data) < 4:
        raise ProtocolError("clipboard message shorter than its selection header")
    return data[0], data[4:]


def parse_types(body: bytes) -> list[int]:
    return list(struct.unpack_from(f"<{len(body) // 4}I", body))
