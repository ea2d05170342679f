"""WAV files as sound devices, for tests and diagnostics: the guest's sound recorded as it
arrives, and a recording played as the microphone in real time."""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import numpy as np

from .pacing import Pacer
from .pcm import SAMPLE_BYTES, frame_bytes

log = logging.getLogger(__name__)


class WavOutput:
    """Everything the guest plays, one stream after another, in one file (the format of
    the first stream; a later stream in another format is left out, and said so)."""

    paced = False
    latency_ms = 0

    def __init__(self, path: Path) -> None:
        self.name = f"wav:{path}"
        self.path = path
        self._file: wave.Wave_write | None = None
        self._format: tuple[int, int] | None = None
        self._skipping = False

    def start(self, rate: int, channels: int) -> None:
        if self._file is None:
            try:
                self._file = wave.open(str(self.path), "wb")  # noqa: SIM115 - kept open
            except OSError as exc:
                raise OSError(f"cannot write {self.path}: {exc.strerror}") from None
            self._file.setnchannels(channels)
            self._file.setsampwidth(SAMPLE_BYTES)
            self._file.setframerate(rate)
            self._format = (rate, channels)
        self._skipping = self._format != (rate, channels)
        if self._skipping:
            log.warning("%s holds %d Hz, %d channels: a stream of %d Hz, %d channels is "
                        "not written to it", self.path, *self._format or (0, 0), rate,
                        channels)

    def write(self, frames: bytes) -> None:
        if self._file is not None and not self._skipping:
            self._file.writeframes(frames)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class WavInput:
    """A recording played as the microphone from its start at each stream, then silence.
    Mono recordings are played on both channels; the rate must be the server's."""

    def __init__(self, path: Path) -> None:
        self.name = f"wav:{path}"
        self.path = path
        self._frames = b""
        self._position = 0
        self._pacer: Pacer | None = None

    def start(self, rate: int, channels: int) -> None:
        try:
            with wave.open(str(self.path), "rb") as recording:
                shape = (recording.getframerate(), recording.getnchannels(),
                         recording.getsampwidth())
                data = recording.readframes(recording.getnframes())
        except (OSError, EOFError, wave.Error) as exc:
            raise OSError(f"cannot read {self.path} as a WAV file: {exc}") from None
        if shape[2] != SAMPLE_BYTES or shape[0] != rate or shape[1] not in (1, channels):
            raise OSError(f"{self.path} is {shape[0]} Hz, {shape[1]} channels, "
                          f"{8 * shape[2]}-bit; the server records {rate} Hz, {channels} "
                          f"channels, 16-bit")
        if shape[1] != channels:
            data = np.repeat(np.frombuffer(data, dtype="<i2"), channels).tobytes()
        self._frames, self._position = data, 0
        self._frame = frame_bytes(channels)
        self._pacer = Pacer(rate)

    def read(self, frames: int) -> bytes:
        if self._pacer is None:
            return b""
        want = frames * self._frame
        chunk = self._frames[self._position:self._position + want]
        self._position += len(chunk)
        self._pacer.passed(frames)
        return chunk + bytes(want - len(chunk))

    def stop(self) -> None:
        self._pacer = None
