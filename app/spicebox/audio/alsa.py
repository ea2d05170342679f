"""ALSA through pyalsaaudio: the device's speakers or headset, and its microphone."""

from __future__ import annotations

import logging
from typing import Any

import alsaaudio

from .pacing import Pacer
from .pcm import frame_bytes

log = logging.getLogger(__name__)

PERIOD_MS = 10  # one SPICE packet; also what the device is woken for
PERIODS = 4  # in the device's buffer: 40 ms


def candidates(name: str) -> list[str]:
    """The PCMs to try, in order, for a configured name: ALSA's default for none; a card's
    name (``Headset``, as in /proc/asound/cards) through plughw when that card is there;
    any other name as it is, then the default (a headset that was unplugged, a name that
    is not there)."""
    if not name:
        return ["default"]
    if name in alsaaudio.cards():
        return [f"plughw:CARD={name}"]
    return [name, "default"]


def _open_first(kind: int, name: str, rate: int, channels: int, period: int) -> Any:
    failures = []
    for device in candidates(name):
        try:
            pcm = _open(kind, device, rate, channels, period)
        except OSError as exc:
            failures.append(str(exc))
            continue
        if failures:
            log.info("%s; using %s", failures[0], device)
        log.info("%s %s (%d Hz, %d channels)", "playing sound on" if
                 kind == alsaaudio.PCM_PLAYBACK else "recording sound from", device, rate,
                 channels)
        return pcm
    raise OSError(failures[-1])


def _open(kind: int, device: str, rate: int, channels: int, period: int) -> Any:
    try:
        pcm = alsaaudio.PCM(kind, alsaaudio.PCM_NORMAL, rate=rate, channels=channels,
                            format=alsaaudio.PCM_FORMAT_S16_LE, periodsize=period,
                            periods=PERIODS, device=device)
    except alsaaudio.ALSAAudioError as exc:
        raise OSError(f"cannot open ALSA device {device}: {exc}") from None
    actual = pcm.info()
    if (actual["rate"], actual["channels"]) != (rate, channels):
        pcm.close()
        raise OSError(f"ALSA device {device} cannot take {rate} Hz, {channels} channels (it "
                      f"offers {actual['rate']} Hz, {actual['channels']}); choose a plughw: "
                      f"or the default device")
    return pcm


class AlsaOutput:
    paced = True
    latency_ms = PERIOD_MS * PERIODS  # its buffer is kept full

    def __init__(self, name: str) -> None:
        self.name = f"alsa:{name}" if name else "alsa"
        self._configured = name
        self._pcm: Any = None
        self._pacer: Pacer | None = None

    def start(self, rate: int, channels: int) -> None:
        self.stop()
        period = rate * PERIOD_MS // 1000
        self._pcm = _open_first(alsaaudio.PCM_PLAYBACK, self._configured, rate, channels,
                                period)
        self._pacer = Pacer(rate, slack_frames=period * PERIODS)
        self._frame = frame_bytes(channels)

    def write(self, frames: bytes) -> None:
        if self._pcm is None or self._pacer is None:
            return
        try:
            self._pcm.write(frames)
        except alsaaudio.ALSAAudioError as exc:
            raise OSError(f"the sound output failed: {exc}") from None
        self._pacer.passed(len(frames) // self._frame)

    def stop(self) -> None:
        if self._pcm is not None:
            self._pcm.close()
            self._pcm = None

    def close(self) -> None:
        self.stop()


class AlsaInput:
    def __init__(self, name: str) -> None:
        self.name = f"alsa:{name}" if name else "alsa"
        self._configured = name
        self._pcm: Any = None
        self._pacer: Pacer | None = None
        self._pending = b""

    def start(self, rate: int, channels: int) -> None:
        self.stop()
        self._pcm = _open_first(alsaaudio.PCM_CAPTURE, self._configured, rate, channels,
                                rate * PERIOD_MS // 1000)
        self._pacer = Pacer(rate)
        self._frame = frame_bytes(channels)

    def read(self, frames: int) -> bytes:
        if self._pcm is None or self._pacer is None:
            return b""
        want = frames * self._frame
        while len(self._pending) < want:
            try:
                count, data = self._pcm.read()
            except alsaaudio.ALSAAudioError as exc:
                raise OSError(f"the microphone failed: {exc}") from None
            if count > 0:  # a negative count is an overrun ALSA recovered from
                self._pending += data
                self._pacer.passed(count)
        out, self._pending = self._pending[:want], self._pending[want:]
        return out

    def stop(self) -> None:
        if self._pcm is not None:
            self._pcm.close()
            self._pcm = None
        self._pending = b""


def sound_cards() -> list[str]:
    """The cards ALSA sees now, by name (a USB headset appears here when plugged in)."""
    try:
        return list(alsaaudio.cards())
    except alsaaudio.ALSAAudioError:
        return []
