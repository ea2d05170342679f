"""The REDQ link handshake that opens every SPICE channel, as a sans-IO state machine.

    client: link header + link message + capability words
    server: link header + reply (error, RSA-1024 public key, capability words)
    client: [u32 auth mechanism, with AUTH_SELECTION] + RSA-OAEP(password + NUL)
    server: u32 link result
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .constants import (
    MAGIC,
    MAX_PASSWORD_LENGTH,
    TICKET_PUBKEY_BYTES,
    VERSION_MAJOR,
    VERSION_MINOR,
    ChannelType,
    CommonCap,
    LinkError,
)
from .errors import AuthenticationFailed, LinkRefused, ProtocolError
from .ticket import encrypt_ticket

LINK_HEADER = struct.Struct("<4sIII")  # magic, major, minor, size of what follows
LINK_MESS = struct.Struct("<IBBIII")  # connection id, type, id, #common, #channel, caps offset
LINK_REPLY = struct.Struct(f"<I{TICKET_PUBKEY_BYTES}sIII")  # error, key, #common, #chan, offset
_U32 = struct.Struct("<I")
# A reply carries a handful of capability words; anything near this is not a SPICE server.
MAX_REPLY_SIZE = 64 * 1024

LINK_ERROR_HINTS = {
    LinkError.ERROR: "the server reported a generic link error",
    LinkError.INVALID_MAGIC: "the server did not understand the SPICE greeting",
    LinkError.INVALID_DATA: "the server rejected the link message as malformed",
    LinkError.VERSION_MISMATCH: "the server speaks an incompatible SPICE protocol version",
    LinkError.NEED_SECURED: "the server requires TLS for this channel: connect to its "
                            "tls-port (spice+tls://HOST:PORT or ?tls-port=N)",
    LinkError.NEED_UNSECURED: "the server requires a plain (non-TLS) connection for this channel",
    LinkError.PERMISSION_DENIED: "the server refused the password: check it, or get a fresh "
                                 "ticket if it expires",
    LinkError.BAD_CONNECTION_ID: "the server does not know this session any more",
    LinkError.CHANNEL_NOT_AVAILABLE: "the server does not offer this channel",
}


def caps_to_words(caps: Iterable[int]) -> list[int]:
    words: list[int] = []
    for bit in caps:
        index, offset = divmod(bit, 32)
        words.extend([0] * (index + 1 - len(words)))
        words[index] |= 1 << offset
    return words


def words_to_caps(words: Iterable[int]) -> frozenset[int]:
    return frozenset(i * 32 + b for i, w in enumerate(words) for b in range(32) if w >> b & 1)


def _raise_link_error(code: int) -> None:
    try:
        hint = LINK_ERROR_HINTS[LinkError(code)]
    except (ValueError, KeyError):
        hint = f"the server refused the link with unknown error {code}"
    if code == LinkError.PERMISSION_DENIED:
        raise AuthenticationFailed(code, hint)
    raise LinkRefused(code, hint)


@dataclass(frozen=True)
class LinkResult:
    common_caps: frozenset[int]
    channel_caps: frozenset[int]
    mini_header: bool


class _State(enum.Enum):
    REPLY_HEADER = enum.auto()
    REPLY = enum.auto()
    RESULT = enum.auto()
    DONE = enum.auto()


def check_password(password: str) -> str:
    """The ticket as given, or ValueError if SPICE cannot carry it."""
    if len(password.encode()) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"SPICE passwords are at most {MAX_PASSWORD_LENGTH} bytes")
    return password


class LinkHandshake:
    """Feed it the server's bytes; it returns what to send and, at the end, a LinkResult.

    ``leftover`` holds bytes that arrived after the link result: they are the first
    messages of the channel and belong to the framer.
    """

    def __init__(self, channel_type: ChannelType, channel_id: int, connection_id: int,
                 password: str, common_caps: Iterable[int], channel_caps: Iterable[int]) -> None:
        check_password(password)
        self.channel_type = channel_type
        self.channel_id = channel_id
        self.connection_id = connection_id
        self._password = password
        self.common_caps = frozenset(common_caps)
        self.channel_caps = frozenset(channel_caps)
        self._state = _State.REPLY_HEADER
        self._buf = bytearray()
        self._need = LINK_HEADER.size
        self.result: LinkResult | None = None
        self.leftover = b""
        self._server_common: frozenset[int] = frozenset()
        self._server_channel: frozenset[int] = frozenset()

    @property
    def done(self) -> bool:
        return self.result is not None

    def start(self) -> bytes:
        common = caps_to_words(self.common_caps)
        channel = caps_to_words(self.channel_caps)
        body = LINK_MESS.pack(self.connection_id, self.channel_type, self.channel_id,
                              len(common), len(channel), LINK_MESS.size)
        body += b"".join(_U32.pack(w) for w in common + channel)
        return LINK_HEADER.pack(MAGIC, VERSION_MAJOR, VERSION_MINOR, len(body)) + body

    def receive_data(self, data: bytes) -> bytes:
        """Consume server bytes; return the bytes to send in answer (possibly empty)."""
        if self.done:
            raise ProtocolError("link data after the link completed")
        self._buf += data
        out = b""
        while not self.done and len(self._buf) >= self._need:
            chunk = bytes(self._buf[:self._need])
            del self._buf[:self._need]
            out += self._step(chunk)
        if self.done:
            self.leftover = bytes(self._buf)
            self._buf.clear()
        return out

    def _step(self, chunk: bytes) -> bytes:
        if self._state is _State.REPLY_HEADER:
            magic, major, _minor, size = LINK_HEADER.unpack(chunk)
            if magic != MAGIC:
                raise ProtocolError("the peer is not a SPICE server (bad link magic)")
            if major != VERSION_MAJOR:
                raise ProtocolError(f"the server speaks SPICE protocol {major}, "
                                    f"this client speaks {VERSION_MAJOR}")
            if not LINK_REPLY.size <= size <= MAX_REPLY_SIZE:
                raise ProtocolError(f"link reply of {size} bytes is malformed")
            self._state, self._need = _State.REPLY, size
            return b""
        if self._state is _State.REPLY:
            return self._on_reply(chunk)
        (code,) = _U32.unpack(chunk)
        if code != LinkError.OK:
            _raise_link_error(code)
        self._state = _State.DONE
        self.result = LinkResult(self._server_common, self._server_channel,
                                 CommonCap.MINI_HEADER in self._server_common
                                 and CommonCap.MINI_HEADER in self.common_caps)
        return b""

    def _on_reply(self, reply: bytes) -> bytes:
        error, pubkey, n_common, n_channel, offset = LINK_REPLY.unpack_from(reply)
        if error != LinkError.OK:
            _raise_link_error(error)
        end = offset + 4 * (n_common + n_channel)
        if offset < LINK_REPLY.size or end > len(reply):
            raise ProtocolError("link reply capability list lies outside the reply")
        words = struct.unpack_from(f"<{n_common + n_channel}I", reply, offset)
        self._server_common = words_to_caps(words[:n_common])
        self._server_channel = words_to_caps(words[n_common:])
        out = b""
        if (CommonCap.PROTOCOL_AUTH_SELECTION in self._server_common
                and CommonCap.PROTOCOL_AUTH_SELECTION in self.common_caps):
            if CommonCap.AUTH_SPICE not in self._server_common:
                raise LinkRefused(LinkError.ERROR, "the server only offers SASL authentication, "
                                                   "which this client does not support")
            out += _U32.pack(CommonCap.AUTH_SPICE)
        out += encrypt_ticket(pubkey, self._password)
        self._password = ""
        self._state, self._need = _State.RESULT, _U32.size
        return out
