"""The sans-IO base of every channel: link, framing, and the messages all channels share.

A channel is fed the bytes read from its socket (``receive_data``, or ``received`` for
bytes read into its ``receive_buffer()``) and returns events; whatever it wants to send
accumulates until the transport collects ``data_to_send()``.
Subclasses handle their own message numbers in ``handle``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from ..logonce import LogOnce
from . import messages as m
from .constants import ChannelType, CommonCap, LinkError
from .errors import ProtocolError, Unsupported
from .events import ChannelEvent, ChannelLinked, ServerDisconnecting, ServerNotice
from .framing import Frame, Framer
from .link import LinkHandshake
from .recording import Recorder
from .wire import SERVER, Message, decode, encode, lookup

log = logging.getLogger(__name__)

COMMON_CAPS = (CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.AUTH_SPICE, CommonCap.MINI_HEADER)
LINK_READ_SIZE = 4096  # the link's replies are a few hundred bytes


class Channel:
    channel_type: ClassVar[ChannelType]

    def __init__(self, channel_id: int, connection_id: int, password: str,
                 channel_caps: Iterable[int] = ()) -> None:
        self.channel_id = channel_id
        self._link = LinkHandshake(self.channel_type, channel_id, connection_id, password,
                                   COMMON_CAPS, channel_caps)
        self._framer: Framer | None = None
        self._link_buffer = bytearray()
        self._out = bytearray()
        self.common_caps: frozenset[int] = frozenset()
        self.channel_caps: frozenset[int] = frozenset()
        self._ack_window = 0
        self._unacked = 0
        self._skip = LogOnce(log, logging.INFO)
        self._wakeup: Callable[[], None] | None = None
        self.recorder: Recorder | None = None
        self.closed = False

    @property
    def name(self) -> str:
        return f"{self.channel_type.name.lower()}:{self.channel_id}"

    @property
    def linked(self) -> bool:
        return self._framer is not None

    def initiate(self) -> bytes:
        """The first bytes to send once the socket is open."""
        return self._link.start()

    def set_wakeup(self, callback: Callable[[], None]) -> None:
        """``callback`` runs whenever the channel has queued bytes to send; the transport
        uses it to send data that is not a reply to received bytes (input, agent, audio)."""
        self._wakeup = callback

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def send(self, msg: Message) -> None:
        if self._framer is None:
            raise RuntimeError(f"{self.name}: cannot send {type(msg).__name__} before the link")
        self._queue(self._framer.frame(msg.spec.number, encode(msg)))

    def _queue(self, data: bytes) -> None:
        if data:
            self._out += data
            if self._wakeup is not None:
                self._wakeup()

    def disconnect(self) -> None:
        """Say goodbye the way spice-gtk does, so the server logs a clean close."""
        if self._framer is not None and not self.closed:
            self.send(m.ClientDisconnecting(time.time_ns() // 1000, LinkError.OK))
        self.closed = True

    def receive_buffer(self) -> memoryview:
        """Where the next bytes read from the socket may go (see ``received``): once
        linked, straight into the framer's buffer, as asyncio's BufferedProtocol does."""
        if self._framer is None:
            self._link_buffer = bytearray(LINK_READ_SIZE)
            return memoryview(self._link_buffer)
        return self._framer.buffer()

    def received(self, n: int) -> list[ChannelEvent]:
        """The events of ``n`` bytes just read into ``receive_buffer()``."""
        if self._framer is None:
            return self.receive_data(bytes(self._link_buffer[:n]))
        return self._messages(self._framer.filled(n))

    def receive_data(self, data: bytes) -> list[ChannelEvent]:
        """The events of bytes read from the socket."""
        if self._framer is not None:
            return self._messages(self._framer.feed(data))
        self._queue(self._link.receive_data(data))
        result = self._link.result
        if result is None:
            return []
        self._framer = Framer(result.mini_header)
        self.common_caps, self.channel_caps = result.common_caps, result.channel_caps
        events: list[ChannelEvent] = [ChannelLinked(self.channel_type, self.channel_id,
                                                    result.common_caps, result.channel_caps)]
        events += self.on_linked()
        return events + self._messages(self._framer.feed(self._link.leftover))

    def _messages(self, frames: list[Frame]) -> list[ChannelEvent]:
        events: list[ChannelEvent] = []
        for msg_type, body, carried in frames:
            # spice-gtk acknowledges messages as sent, not the sub-messages they carry.
            if self._ack_window and not carried:
                self._unacked += 1
                if self._unacked >= self._ack_window:
                    self._unacked = 0
                    self.send(m.Ack())
            if self.recorder is not None:
                self.recorder.write(self.channel_type, self.channel_id, msg_type, body)
            events.extend(self._dispatch(msg_type, body))
        return events

    def _dispatch(self, msg_type: int, body: memoryview) -> list[ChannelEvent]:
        spec = lookup(SERVER, self.channel_type, msg_type)
        if spec is None:
            self._skip(msg_type, "%s: skipping unknown message type %d", self.name, msg_type)
            return []
        try:
            msg: Message = decode(spec.cls, body)
        except Unsupported as exc:
            self._skip(msg_type, "%s: skipping message type %d (%s)", self.name, msg_type, exc)
            return []
        except ProtocolError as exc:
            raise ProtocolError(f"{self.name}: malformed {spec.cls.__name__}: {exc}") from None
        return self.handle(msg)

    def on_linked(self) -> list[ChannelEvent]:
        """Hook for the first messages a channel sends after its link."""
        return []

    def handle(self, msg: Message) -> list[ChannelEvent]:
        """Messages every channel understands; subclasses extend this."""
        if isinstance(msg, m.SetAck):
            self._ack_window, self._unacked = msg.window, 0
            self.send(m.AckSync(msg.generation))
        elif isinstance(msg, m.Ping):
            self.send(m.Pong(msg.id, msg.timestamp))
        elif isinstance(msg, m.Notify):
            text = bytes(msg.text).rstrip(b"\0").decode(errors="replace")
            return [ServerNotice(msg.severity, text)]
        elif isinstance(msg, m.Disconnecting):
            return [ServerDisconnecting(msg.reason)]
        elif isinstance(msg, m.WaitForChannels | m.Migrate):
            # Waits order cache use across channels, and migration needs a second server;
            # with neither caches nor migration enabled there is nothing to do.
            pass
        else:
            return [msg]
        return []
