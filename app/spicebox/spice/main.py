"""Main channel: session setup (INIT, ATTACH_CHANNELS, channel list) and session-wide news."""

from __future__ import annotations

import logging
import struct
from typing import ClassVar

from ..logonce import LogOnce
from . import messages as m
from .agent import (
    SELECTION_CLIPBOARD,
    AgentCap,
    AgentMessage,
    AgentOutbox,
    AgentStream,
    AgentType,
    ClipboardType,
    capabilities,
    clipboard_message,
    monitors_config,
    parse_capabilities,
    parse_clipboard,
    parse_types,
)
from .channel import Channel
from .constants import ChannelType, MouseMode
from .errors import ProtocolError
from .events import (
    AgentChanged,
    ChannelEvent,
    ChannelsAvailable,
    GuestClipboard,
    MediaTime,
    MouseModeChanged,
    SessionStarted,
)
from .wire import Message

log = logging.getLogger(__name__)

# What this client does with the agent: dynamic resolution, monitor layout, clipboard.
# MOUSE_STATE: in agent mouse mode the server turns our positions into the agent's
# MOUSE_STATE messages; spice-gtk announces it for that.
AGENT_CAPS = frozenset({AgentCap.MOUSE_STATE, AgentCap.MONITORS_CONFIG, AgentCap.REPLY,
                        AgentCap.SPARSE_MONITORS_CONFIG, AgentCap.MONITORS_CONFIG_POSITION,
                        AgentCap.CLIPBOARD_BY_DEMAND, AgentCap.CLIPBOARD_SELECTION})
# What the client takes from and gives to the guest's clipboard, in order of preference.
CLIPBOARD_TYPES = (ClipboardType.UTF8_TEXT, ClipboardType.IMAGE_PNG)
# AGENT_START's token count: the server may send as much as it likes (as spice-gtk).
_UNLIMITED = 0xFFFFFFFF


class MainChannel(Channel):
    channel_type: ClassVar[ChannelType] = ChannelType.MAIN

    def __init__(self, password: str) -> None:
        # The main channel opens the session, so it has no connection id yet.
        super().__init__(0, 0, password)
        self.session_id: int | None = None
        self.agent_connected = False
        self.agent_caps: frozenset[int] = frozenset()
        self._agent_in = AgentStream()
        self._agent_out = AgentOutbox()
        self._agent_warn = LogOnce(log, logging.WARNING)
        self._clipboard: tuple[ClipboardType, bytes] | None = None  # ours, offered

    def handle(self, msg: Message) -> list[ChannelEvent]:
        if isinstance(msg, m.MainInit):
            self.session_id = msg.session_id
            self._agent_out.tokens = msg.agent_tokens
            agent = self._agent_start() if msg.agent_connected else []
            self.send(m.AttachChannels())
            return [SessionStarted(msg.session_id, msg.display_channels_hint,
                                   bool(msg.agent_connected)),
                    MediaTime(msg.multi_media_time),
                    self._mouse_mode(msg.current_mouse_mode, msg.supported_mouse_modes),
                    *agent]
        if isinstance(msg, m.AgentConnected):
            return self._agent_start()
        if isinstance(msg, m.AgentConnectedTokens):
            self._agent_out.tokens = msg.num_tokens
            return self._agent_start()
        if isinstance(msg, m.AgentDisconnected):
            return self._agent_stop()
        if isinstance(msg, m.AgentToken):
            self._agent_out.tokens += msg.num_tokens
            self._agent_flush()
            return []
        if isinstance(msg, m.AgentData):
            return self._agent_data(msg.data)
        if isinstance(msg, m.MouseModeMsg):
            return [self._mouse_mode(msg.current_mode, msg.supported_modes)]
        if isinstance(msg, m.MultiMediaTime):
            return [MediaTime(msg.time)]
        if isinstance(msg, m.ChannelsList):
            if self.session_id is None:
                raise ProtocolError("the server listed channels before opening the session")
            return [ChannelsAvailable(msg.channels)]
        return super().handle(msg)

    # --- the guest agent ----------------------------------------------------------------

    def send_monitors(self, monitors: list[tuple[int, int, int, int]]) -> bool:
        """Ask the guest for this monitor layout, (x, y, width, height) each; False if no
        agent that can do it is there (the request is not kept: call again when
        AgentChanged says one is)."""
        if not self.agent_connected or AgentCap.MONITORS_CONFIG not in self.agent_caps:
            return False
        self._agent_send(monitors_config(monitors))
        return True

    def offer_clipboard(self, kind: ClipboardType, data: bytes) -> bool:
        """Make ``data`` the guest's clipboard (the guest asks for it when pasting);
        False if no agent with a clipboard is there."""
        if not self.agent_connected or AgentCap.CLIPBOARD_BY_DEMAND not in self.agent_caps:
            return False
        self._clipboard = (kind, data)
        self._agent_send(clipboard_message(AgentType.CLIPBOARD_GRAB, self._selection,
                                           struct.pack("<I", kind)))
        return True

    @property
    def _selection(self) -> bool:
        return AgentCap.CLIPBOARD_SELECTION in self.agent_caps

    def _clipboard_message(self, msg: AgentMessage) -> list[ChannelEvent]:
        selection, body = parse_clipboard(msg.data, self._selection)
        if selection != SELECTION_CLIPBOARD:
            return []
        if msg.type == AgentType.CLIPBOARD_GRAB:
            # The guest copied something: fetch it now, so it can be pasted here (or
            # into the local clipboard) without a round trip at paste time.
            offered = parse_types(body)
            wanted = next((t for t in CLIPBOARD_TYPES if t in offered), None)
            if wanted is not None:
                self._agent_send(clipboard_message(AgentType.CLIPBOARD_REQUEST,
                                                   self._selection, struct.pack("<I", wanted)))
            self._clipboard = None  # the guest owns the clipboard now
        elif msg.type == AgentType.CLIPBOARD_REQUEST and len(body) >= 4:
            (wanted,) = struct.unpack_from("<I", body)
            data = (self._clipboard[1] if self._clipboard is not None
                    and self._clipboard[0] == wanted else b"")
            self._agent_send(clipboard_message(AgentType.CLIPBOARD, self._selection,
                                               struct.pack("<I", wanted) + data))
        elif msg.type == AgentType.CLIPBOARD and len(body) >= 4:
            (kind,) = struct.unpack_from("<I", body)
            if kind in CLIPBOARD_TYPES:
                return [GuestClipboard(ClipboardType(kind), body[4:])]
        return []

    def _agent_start(self) -> list[ChannelEvent]:
        if self.agent_connected:
            return []
        self.agent_connected = True
        self.send(m.AgentStart(_UNLIMITED))
        self._agent_send(capabilities(AGENT_CAPS, request=True))
        return [AgentChanged(True, self.agent_caps)]

    def _agent_stop(self) -> list[ChannelEvent]:
        self.agent_connected, self.agent_caps = False, frozenset()
        self._agent_in.reset()
        self._agent_out.clear()
        return [AgentChanged(False, frozenset())]

    def _agent_send(self, msg: AgentMessage) -> None:
        self._agent_out.put(msg)
        self._agent_flush()

    def _agent_flush(self) -> None:
        for piece in self._agent_out.take():
            self.send(m.AgentDataOut(memoryview(piece)))

    def _agent_data(self, piece: memoryview) -> list[ChannelEvent]:
        if not self.agent_connected:
            return []
        try:
            messages = self._agent_in.feed(piece)
        except ProtocolError as exc:
            # The agent's stream is the guest's business: losing it costs resizing (and,
            # later, the clipboard), not the session.
            self._agent_warn("stream", "guest agent: %s; ignoring the agent from now on", exc)
            return self._agent_stop()
        events: list[ChannelEvent] = []
        for agent_msg in messages:
            events.extend(self._agent_message(agent_msg))
        return events

    def _agent_message(self, msg: AgentMessage) -> list[ChannelEvent]:
        if msg.type == AgentType.ANNOUNCE_CAPABILITIES:
            try:
                request, caps = parse_capabilities(msg.data)
            except ProtocolError as exc:
                self._agent_warn("caps", "guest agent: %s", exc)
                return []
            if request:
                self._agent_send(capabilities(AGENT_CAPS, request=False))
            self.agent_caps = caps
            return [AgentChanged(True, caps)]
        if msg.type in (AgentType.CLIPBOARD_GRAB, AgentType.CLIPBOARD_REQUEST,
                        AgentType.CLIPBOARD, AgentType.CLIPBOARD_RELEASE):
            try:
                return self._clipboard_message(msg)
            except ProtocolError as exc:
                self._agent_warn("clipboard", "guest agent clipboard: %s", exc)
                return []
        if msg.type == AgentType.REPLY and len(msg.data) >= 8:
            kind, error = struct.unpack_from("<II", msg.data)
            if error != 1:  # VD_AGENT_SUCCESS
                self._agent_warn(("reply", kind), "guest agent refused a %s request",
                                 AgentType(kind).name if kind in AgentType._value2member_map_
                                 else kind)
        return []

    def _mouse_mode(self, current: int, supported: int) -> MouseModeChanged:
        """Ask for client mode whenever the server can do it (a tablet or the agent):
        the guest pointer then sits exactly under the local one, and touch works."""
        mode, modes = MouseMode(current & 3), MouseMode(supported & 3)
        if MouseMode.CLIENT in modes and mode != MouseMode.CLIENT:
            self.send(m.MouseModeRequest(MouseMode.CLIENT))
        return MouseModeChanged(mode, modes)
