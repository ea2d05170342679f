"""Record channel: the server asks for the microphone (START), the client answers with its
mode and a start mark, then sends the samples in the format the server asked for."""

from __future__ import annotations

from typing import ClassVar

from . import messages as m
from .constants import (
    OPUS_FREQUENCY,
    RECORD_MAX_DATA_BYTES,
    AudioDataMode,
    ChannelType,
    RecordCap,
)
from .events import AudioStart, AudioStop, ChannelEvent
from .sound import SoundChannel
from .wire import Message


class RecordChannel(SoundChannel):
    channel_type: ClassVar[ChannelType] = ChannelType.RECORD

    def __init__(self, channel_id: int, connection_id: int, password: str,
                 opus: bool) -> None:
        """``opus``: send Opus where the server takes it (it saves upstream bandwidth and
        costs encoding), else raw samples."""
        super().__init__(channel_id, connection_id, password, [RecordCap.VOLUME])
        self._opus = opus
        self.stream: AudioStart | None = None  # what the server records now, if anything
        self._marked = False  # MODE and START_MARK sent for this stream

    def handle(self, msg: Message) -> list[ChannelEvent]:
        if isinstance(msg, m.RecordStart):
            stopped = self._stop()
            if not self._playable(msg.channels, msg.format, msg.frequency):
                return stopped
            opus = (self._opus and RecordCap.OPUS in self.channel_caps
                    and msg.frequency == OPUS_FREQUENCY)
            self.stream = AudioStart(msg.channels, msg.frequency,
                                     AudioDataMode.OPUS if opus else AudioDataMode.RAW)
            return [*stopped, self.stream]
        if isinstance(msg, m.RecordStop):
            return self._stop()
        if isinstance(msg, m.RecordVolume):
            return self._level(volume=msg.volume)
        if isinstance(msg, m.RecordMute):
            return self._level(muted=bool(msg.mute))
        return super().handle(msg)

    def send_audio(self, time: int, data: bytes) -> None:
        """Send captured sound: raw frames in the stream's format (split to the size the
        server reads at once), or one Opus packet. Ignored when nothing is recording."""
        if self.stream is None or not self.linked or self.closed:
            return
        if not self._marked:
            self.send(m.RecordMode(time, self.stream.mode, memoryview(b"")))
            self.send(m.RecordStartMark(time))
            self._marked = True
        if self.stream.mode == AudioDataMode.OPUS:
            self.send(m.RecordData(time, memoryview(data)))
            return
        view = memoryview(data)
        for start in range(0, len(view), RECORD_MAX_DATA_BYTES):
            self.send(m.RecordData(time, view[start:start + RECORD_MAX_DATA_BYTES]))

    def _stop(self) -> list[ChannelEvent]:
        self._marked = False
        if self.stream is None:
            return []
        self.stream = None
        return [AudioStop()]
