"""The guest's sound on a local output: decode, apply the guest's volume, keep the device
fed at its own pace from a jitter buffer, and tell the session which multimedia time is
being heard, so video can keep in step with it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..logonce import LogOnce
from ..spice.constants import AudioDataMode
from ..spice.errors import ProtocolError
from ..spice.events import AudioData, AudioLevel, AudioStart
from .devices import Output
from .jitter import JitterBuffer
from .opus import OpusDecoder
from .pcm import FULL_VOLUME, apply_level

log = logging.getLogger(__name__)

PERIOD_MS = 10  # what the device thread writes at once: one SPICE packet
# Held in front of the device: two packets absorb a LAN's jitter, and with the device's
# 40 ms the sound is heard at most about 60 ms after it arrived.
TARGET_MS = 20
SLACK_MS = 40  # held beyond the target before the oldest is dropped
RETRY_SECONDS = 1.0  # after the output failed (a headset pulled out)


class Speaker:
    def __init__(self, output: Output, heard: Callable[[int], None], volume: int = 100) -> None:
        """``heard`` gets the multimedia time of the sound leaving the device now; it is
        called on the thread that calls ``data``. ``volume``: the box's own, in %."""
        self.output = output
        self.volume = volume
        self._heard = heard
        self.stream: AudioStart | None = None
        self.level = AudioLevel((), False)
        self.latency_ms = 0  # asked by the server, to match the video's delay
        self._decoder: OpusDecoder | None = None
        self._jitter: JitterBuffer | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._warn = LogOnce(log, logging.WARNING)
        self.packets = 0

    def start(self, stream: AudioStart) -> None:
        self.stop()
        try:
            self.output.start(stream.frequency, stream.channels)
        except OSError as exc:
            self._warn(("start", str(exc)), "no sound: %s", exc)
            return
        if stream.mode == AudioDataMode.OPUS:
            try:
                self._decoder = OpusDecoder(stream.frequency, stream.channels)
            except ProtocolError as exc:
                self._warn(("opus", str(exc)), "no sound: %s", exc)
                self.output.stop()
                return
        self.stream = stream
        if self.output.paced:
            self._jitter = JitterBuffer(stream.frequency, stream.channels, 0, 0)
            self._set_target()
            self._running = True
            self._thread = threading.Thread(target=self._feed, name="spicebox-speaker",
                                            daemon=True)
            self._thread.start()

    def data(self, packet: AudioData) -> None:
        stream = self.stream
        if stream is None:
            return
        frames = packet.data
        if self._decoder is not None:
            try:
                frames = self._decoder.decode(frames)
            except ProtocolError as exc:
                self._warn("decode", "skipping sound the server sent: %s", exc)
                return
        frames = apply_level(frames, stream.channels, self._volume(stream.channels),
                             self.level.muted)
        self.packets += 1
        if self._jitter is None:
            try:
                self.output.write(frames)
            except OSError as exc:
                self._warn(("write", str(exc)), "%s", exc)
            self._heard(packet.time)
            return
        with self._lock:
            self._jitter.put(packet.time, frames)
            next_time = self._jitter.next_time
        if next_time is not None:
            self._heard((next_time - self.output.latency_ms) & 0xFFFFFFFF)

    def set_level(self, level: AudioLevel) -> None:
        self.level = level

    def _volume(self, channels: int) -> tuple[int, ...]:
        """The guest's volume per channel, scaled by the box's own."""
        if self.volume >= 100:
            return self.level.volume
        guest = self.level.volume or (FULL_VOLUME,) * channels
        return tuple(v * self.volume // 100 for v in guest)

    def set_latency(self, latency_ms: int) -> None:
        self.latency_ms = latency_ms
        self._set_target()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.stream is not None:
            self.output.stop()
            self.stream = None
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._jitter = None

    def close(self) -> None:
        self.stop()
        self.output.close()

    @property
    def underruns(self) -> int:
        return self._jitter.underruns if self._jitter is not None else 0

    def _set_target(self) -> None:
        jitter, stream = self._jitter, self.stream
        if jitter is None or stream is None:
            return
        target_ms = max(TARGET_MS, self.latency_ms - self.output.latency_ms)
        with self._lock:
            jitter.target_frames = stream.frequency * target_ms // 1000
            jitter.limit_frames = stream.frequency * (target_ms + SLACK_MS) // 1000

    def _feed(self) -> None:
        """The device thread: one period at a time, silence when nothing is held, so the
        device never runs dry (which would click, or stall some drivers)."""
        jitter, stream = self._jitter, self.stream
        assert jitter is not None and stream is not None
        period = stream.frequency * PERIOD_MS // 1000
        while self._running:
            with self._lock:
                frames = jitter.take(period)
            try:
                self.output.write(frames)
            except OSError as exc:
                self._warn(("write", str(exc)), "%s; trying again", exc)
                self._reopen(stream)

    def _reopen(self, stream: AudioStart) -> None:
        self.output.stop()
        while self._running:
            time.sleep(RETRY_SECONDS)
            with self._lock:
                if self._jitter is not None:
                    self._jitter.clear()  # what came meanwhile is stale
            try:
                self.output.start(stream.frequency, stream.channels)
                return
            except OSError as exc:
                self._warn(("start", str(exc)), "%s; trying again", exc)
