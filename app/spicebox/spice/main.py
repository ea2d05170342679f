"""Main channel: session setup (INIT, ATTACH_CHANNELS, channel list) and session-wide news."""

from __future__ import annotations

from typing import ClassVar

from . import messages as m
from .channel import Channel
from .constants import ChannelType, MouseMode
from .errors import ProtocolError
from .events import (
    ChannelEvent,
    ChannelsAvailable,
    MediaTime,
    MouseModeChanged,
    SessionStarted,
)
from .wire import Message


class MainChannel(Channel):
    channel_type: ClassVar[ChannelType] = ChannelType.MAIN

    def __init__(self, password: str) -> None:
        # The main channel opens the session, so it has no connection id yet.
        super().__init__(0, 0, password)
        self.session_id: int | None = None

    def handle(self, msg: Message) -> list[ChannelEvent]:
        if isinstance(msg, m.MainInit):
            self.session_id = msg.session_id
            self.send(m.AttachChannels())
            return [SessionStarted(msg.session_id, msg.display_channels_hint,
                                   bool(msg.agent_connected)),
                    MediaTime(msg.multi_media_time),
                    self._mouse_mode(msg.current_mouse_mode, msg.supported_mouse_modes)]
        if isinstance(msg, m.MouseModeMsg):
            return [self._mouse_mode(msg.current_mode, msg.supported_modes)]
        if isinstance(msg, m.MultiMediaTime):
            return [MediaTime(msg.time)]
        if isinstance(msg, m.ChannelsList):
            if self.session_id is None:
                raise ProtocolError("the server listed channels before opening the session")
            return [ChannelsAvailable(msg.channels)]
        return super().handle(msg)

    def _mouse_mode(self, current: int, supported: int) -> MouseModeChanged:
        """Ask for client mode whenever the server can do it (a tablet or the agent):
        the guest pointer then sits exactly under the local one, and touch works."""
        mode, modes = MouseMode(current & 3), MouseMode(supported & 3)
        if MouseMode.CLIENT in modes and mode != MouseMode.CLIENT:
            self.send(m.MouseModeRequest(MouseMode.CLIENT))
        return MouseModeChanged(mode, modes)
