"""Display channel: asks for the policy's encodings, then hands draw messages to the canvas."""

from __future__ import annotations

from typing import ClassVar

from . import messages as m
from .channel import Channel
from .constants import ChannelType, DisplayCap
from .events import ChannelEvent
from .mmclock import MediaClock
from .policy import DecodingPolicy
from .streamreport import StreamReporter
from .wire import Message

REFUSE_STREAM_DROPS = 0xFFFFFFFF
# Most of the traffic, and nothing for the channel to do: these go to the canvas unchecked.
_DRAWINGS = frozenset({
    m.DrawFill, m.DrawOpaque, m.DrawCopy, m.DrawBlend, m.DrawBlackness, m.DrawWhiteness,
    m.DrawInvers, m.DrawRop3, m.DrawStroke, m.DrawText, m.DrawTransparent,
    m.DrawAlphaBlend, m.DrawComposite, m.CopyBits,
})
_FRAMES = (m.StreamData, m.StreamDataSized)  # many a second: checked next


class DisplayChannel(Channel):
    channel_type: ClassVar[ChannelType] = ChannelType.DISPLAY

    def __init__(self, channel_id: int, session_id: int, password: str,
                 policy: DecodingPolicy, clock: MediaClock | None = None) -> None:
        super().__init__(channel_id, session_id, password, policy.display_caps())
        self.policy = policy
        self.clock = clock or MediaClock()
        self._stream_codecs: dict[int, int] = {}
        self._reporters: dict[int, StreamReporter] = {}
        self.stream_reports_sent = 0  # diagnostics

    def on_linked(self) -> list[ChannelEvent]:
        # The server shares a cache or dictionary among the channels that name the same id,
        # and makes a channel wait for another's images. A cache and a dictionary per
        # channel cost some sharing and spare the client all cross-channel waiting.
        cache_id = self.channel_id + 1
        self.send(m.DisplayInit(cache_id, self.policy.pixmap_cache_pixels,
                                cache_id, self.policy.glz_window_pixels))
        # Sending a message the server never announced would be noise at best.
        if DisplayCap.PREF_COMPRESSION in self.channel_caps:
            self.send(m.PreferredCompression(self.policy.image_compression))
        return []

    def handle(self, msg: Message) -> list[ChannelEvent]:
        if type(msg) in _DRAWINGS:
            return [msg]
        if isinstance(msg, _FRAMES):
            self._account(msg.base)
            return [msg] if self._plays(msg.base.id) else []
        if isinstance(msg, m.StreamActivateReport):
            if not self._plays(msg.stream_id):
                # A report of zero frames and UINT32_MAX drops is spice-server's documented
                # "client cannot play this stream": it stops streaming and sends the region
                # as ordinary images.
                self.send(m.StreamReport(msg.stream_id, msg.unique_id, 0, 0, 0,
                                         REFUSE_STREAM_DROPS, 0, 0))
            elif msg.max_window_size and msg.timeout_ms:
                self._reporters[msg.stream_id] = StreamReporter(
                    msg.stream_id, msg.unique_id, msg.max_window_size, msg.timeout_ms)
            return []
        if isinstance(msg, m.StreamCreate):
            self._stream_codecs[msg.id] = msg.codec_type
        elif isinstance(msg, m.StreamDestroy):
            self._stream_codecs.pop(msg.id, None)
            self._reporters.pop(msg.id, None)
        elif isinstance(msg, m.StreamDestroyAll):
            self._stream_codecs.clear()
            self._reporters.clear()
        if isinstance(msg, m.StreamCreate | m.StreamClip) and not self._plays(msg.id):
            return []
        return super().handle(msg)

    def _plays(self, stream_id: int) -> bool:
        """Whether the stream is one the client plays: a refused stream never reaches the
        canvas."""
        return self._stream_codecs.get(stream_id) in self.policy.video_codecs

    def _account(self, frame: m.StreamDataHeader) -> None:
        reporter, now = self._reporters.get(frame.id), self.clock.now()
        if reporter is not None and now is not None:
            report = reporter.frame(frame.multi_media_time, now)
            if report is not None:
                self.send(report)
                self.stream_reports_sent += 1
