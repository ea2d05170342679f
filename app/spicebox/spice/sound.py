"""What the playback and record channels share: the stream's format, volume and mute."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..logonce import LogOnce
from .channel import Channel
from .constants import AudioFormat
from .events import AudioLevel, ChannelEvent

log = logging.getLogger(__name__)

# spice-server always sends stereo; mono costs nothing to accept. The rates are what ALSA
# devices take.
MAX_CHANNELS = 2
MIN_FREQUENCY, MAX_FREQUENCY = 8000, 192000


class SoundChannel(Channel):
    def __init__(self, channel_id: int, connection_id: int, password: str,
                 channel_caps: Iterable[int]) -> None:
        super().__init__(channel_id, connection_id, password, channel_caps)
        self.volume: tuple[int, ...] = ()  # the guest's, 0..65535 per channel; () = full
        self.muted = False
        self._warn = LogOnce(log, logging.WARNING)

    def _playable(self, channels: int, audio_format: int, frequency: int) -> bool:
        """Whether a stream in this format can be played or recorded; if not, says why."""
        if (audio_format == AudioFormat.S16 and 1 <= channels <= MAX_CHANNELS
                and MIN_FREQUENCY <= frequency <= MAX_FREQUENCY):
            return True
        self._warn(("format", channels, audio_format, frequency),
                   "%s: the server's audio is %d channels of format %d at %d Hz, which "
                   "this client cannot handle; it stays silent", self.name, channels,
                   audio_format, frequency)
        return False

    def _level(self, volume: tuple[int, ...] | None = None,
               muted: bool | None = None) -> list[ChannelEvent]:
        self.volume = self.volume if volume is None else volume
        self.muted = self.muted if muted is None else muted
        return [AudioLevel(self.volume, self.muted)]
