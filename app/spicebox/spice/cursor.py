"""Cursor channel: the guest's pointer shape, its position and visibility, and the cache
of shapes the server refers back to."""

from __future__ import annotations

import logging
from typing import ClassVar

from ..codecs.cursor import CursorShape, decode_cursor
from ..logonce import LogOnce
from . import messages as m
from .channel import Channel
from .constants import ChannelType, CursorFlags
from .errors import ProtocolError
from .events import ChannelEvent, CursorState
from .wire import Message

log = logging.getLogger(__name__)

# spice-server keeps at most this many shapes per client (CLIENT_CURSOR_CACHE_SIZE).
CURSOR_CACHE_SIZE = 256


class CursorChannel(Channel):
    channel_type: ClassVar[ChannelType] = ChannelType.CURSOR

    def __init__(self, channel_id: int, connection_id: int, password: str) -> None:
        super().__init__(channel_id, connection_id, password)
        self.state = CursorState(None, 0, 0, False)
        self.cache: dict[int, CursorShape] = {}
        self._warn = LogOnce(log, logging.WARNING)

    def handle(self, msg: Message) -> list[ChannelEvent]:
        state = self.state
        if isinstance(msg, m.CursorInit):
            self.cache.clear()
            state = CursorState(self._shape(msg.cursor, None), msg.position.x,
                                msg.position.y, bool(msg.visible))
        elif isinstance(msg, m.CursorSet):
            state = CursorState(self._shape(msg.cursor, state.shape), msg.position.x,
                                msg.position.y, bool(msg.visible))
        elif isinstance(msg, m.CursorMove):
            state = CursorState(state.shape, msg.position.x, msg.position.y, state.visible)
        elif isinstance(msg, m.CursorHide):
            state = CursorState(state.shape, state.x, state.y, False)
        elif isinstance(msg, m.CursorReset):
            self.cache.clear()
            state = CursorState(None, state.x, state.y, False)
        elif isinstance(msg, m.CursorInvalOne):
            self.cache.pop(msg.id, None)
            return []
        elif isinstance(msg, m.CursorInvalAll):
            self.cache.clear()
            return []
        elif isinstance(msg, m.CursorTrail):
            return []  # pointer trails are a 1990s laptop aid; the local pointer has none
        else:
            return super().handle(msg)
        if state == self.state:
            return []
        self.state = state
        return [state]

    def _shape(self, cursor: m.Cursor, current: CursorShape | None) -> CursorShape | None:
        """The shape ``cursor`` describes; on a shape that cannot be used, a warning and
        ``current`` (a wrong pointer is better than a dropped session)."""
        if cursor.flags & CursorFlags.NONE:
            return None
        if cursor.flags & CursorFlags.FROM_CACHE:
            cached = self.cache.get(cursor.unique)
            if cached is None:
                self._warn("cache", "%s: the server refers to cursor %#x, which it never "
                           "sent; keeping the current one", self.name, cursor.unique)
                return current
            return cached
        try:
            pixels = decode_cursor(cursor.type, cursor.width, cursor.height, cursor.data)
        except ProtocolError as exc:
            self._warn(("shape", cursor.type), "%s: unusable cursor shape (%s); keeping the "
                       "current one", self.name, exc)
            return current
        shape = CursorShape(pixels, min(cursor.hot_x, cursor.width - 1),
                            min(cursor.hot_y, cursor.height - 1))
        if cursor.flags & CursorFlags.CACHE_ME:
            if len(self.cache) >= CURSOR_CACHE_SIZE and cursor.unique not in self.cache:
                self.cache.pop(next(iter(self.cache)))
            self.cache[cursor.unique] = shape
        return shape
