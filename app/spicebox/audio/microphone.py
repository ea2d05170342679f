"""A local input as the guest's microphone: captured in real time on a thread of its own,
at the guest's volume, raw or as Opus, handed to the session one 10 ms frame at a time
(the most spice-server reads at once)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..logonce import LogOnce
from ..spice.constants import AudioDataMode
from ..spice.events import AudioLevel, AudioStart
from .devices import Input
from .opus import OpusEncoder
from .pcm import apply_level

log = logging.getLogger(__name__)

FRAME_MS = 10


class Microphone:
    def __init__(self, source: Input, send: Callable[[bytes], object]) -> None:
        """``send`` gets each frame (raw, or one Opus packet) on the capture thread."""
        self.source = source
        self._send = send
        self.stream: AudioStart | None = None
        self.level = AudioLevel((), False)
        self._thread: threading.Thread | None = None
        self._running = False
        self._warn = LogOnce(log, logging.WARNING)
        self.frames_sent = 0

    def start(self, stream: AudioStart) -> None:
        self.stop()
        try:
            self.source.start(stream.frequency, stream.channels)
        except OSError as exc:
            self._warn(("start", str(exc)), "no microphone: %s", exc)
            return
        encoder = None
        if stream.mode == AudioDataMode.OPUS:
            try:
                encoder = OpusEncoder(stream.frequency, stream.channels)
            except ValueError as exc:
                self._warn(("opus", str(exc)), "no microphone: %s", exc)
                self.source.stop()
                return
        self.stream = stream
        self._running = True
        self._thread = threading.Thread(target=self._capture, args=(stream, encoder),
                                        name="spicebox-microphone", daemon=True)
        self._thread.start()

    def set_level(self, level: AudioLevel) -> None:
        self.level = level

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.stream is not None:
            self.source.stop()
            self.stream = None

    def _capture(self, stream: AudioStart, encoder: OpusEncoder | None) -> None:
        frames = stream.frequency * FRAME_MS // 1000
        try:
            while self._running:
                try:
                    data = self.source.read(frames)
                except OSError as exc:
                    self._warn(("read", str(exc)), "%s; the guest hears silence", exc)
                    return
                data = apply_level(data, stream.channels, self.level.volume, self.level.muted)
                self._send(encoder.encode(data) if encoder is not None else data)
                self.frames_sent += 1
        finally:
            if encoder is not None:
                encoder.close()
