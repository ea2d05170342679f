"""Playback channel: the guest's sound, as raw S16 frames or Opus packets, each stamped
with the multimedia time at which the server took it."""

from __future__ import annotations

from typing import ClassVar

from . import messages as m
from .constants import AudioDataMode, ChannelType, PlaybackCap
from .errors import ProtocolError
from .events import AudioData, AudioLatency, AudioStart, AudioStop, ChannelEvent
from .sound import SoundChannel
from .wire import Message

_PLAYABLE_MODES = (AudioDataMode.RAW, AudioDataMode.OPUS)


class PlaybackChannel(SoundChannel):
    channel_type: ClassVar[ChannelType] = ChannelType.PLAYBACK

    def __init__(self, channel_id: int, connection_id: int, password: str,
                 opus: bool) -> None:
        """``opus``: offer Opus, which saves bandwidth and costs decoding; without it the
        server sends raw samples (see DecodingPolicy.audio_opus)."""
        caps = [PlaybackCap.VOLUME, PlaybackCap.LATENCY]
        if opus:
            caps.append(PlaybackCap.OPUS)
        super().__init__(channel_id, connection_id, password, caps)
        self.mode = AudioDataMode.RAW
        self.stream: AudioStart | None = None  # the stream playing, if any

    def handle(self, msg: Message) -> list[ChannelEvent]:
        if isinstance(msg, m.PlaybackData):
            if self.stream is None:
                return []  # its stream could not be played (said once, at its start)
            if self.stream.mode == AudioDataMode.RAW:
                frame = 2 * self.stream.channels
                if len(msg.data) % frame:
                    raise ProtocolError(f"{self.name}: {len(msg.data)} bytes of raw audio "
                                        f"are not whole {frame}-byte frames")
            return [AudioData(msg.time, bytes(msg.data))]
        if isinstance(msg, m.PlaybackMode):
            if msg.mode in _PLAYABLE_MODES:
                self.mode = AudioDataMode(msg.mode)
            else:
                self.mode = AudioDataMode.INVALID
                self._warn(("mode", msg.mode), "%s: the server sends audio in mode %d, "
                           "which this client cannot decode; it stays silent", self.name,
                           msg.mode)
            return []
        if isinstance(msg, m.PlaybackStart):
            stopped = self._stop()
            if self.mode == AudioDataMode.INVALID or not self._playable(
                    msg.channels, msg.format, msg.frequency):
                return stopped
            self.stream = AudioStart(msg.channels, msg.frequency, self.mode)
            return [*stopped, self.stream]
        if isinstance(msg, m.PlaybackStop):
            return self._stop()
        if isinstance(msg, m.PlaybackVolume):
            return self._level(volume=msg.volume)
        if isinstance(msg, m.PlaybackMute):
            return self._level(muted=bool(msg.mute))
        if isinstance(msg, m.PlaybackLatency):
            return [AudioLatency(msg.latency_ms)]
        return super().handle(msg)

    def _stop(self) -> list[ChannelEvent]:
        if self.stream is None:
            return []
        self.stream = None
        return [AudioStop()]
