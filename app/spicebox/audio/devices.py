"""Where sound goes and comes from: ``none``, ``alsa[:DEVICE]`` or ``wav:PATH``.

An output takes the guest's sound, an input gives the microphone's. ``paced`` outputs are
real devices that take frames at their own rate (the speaker keeps a jitter buffer in
front of them); an unpaced one (a WAV file) takes each packet as it comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..config.target import ConfigError

KINDS = ("none", "alsa", "wav")


class Output(Protocol):
    paced: bool
    name: str
    latency_ms: int  # how long a frame written waits in the device before it is heard

    def start(self, rate: int, channels: int) -> None:
        """Get ready for a stream; raises OSError (with a one-line reason) if it cannot."""

    def write(self, frames: bytes) -> None:
        """Play ``frames`` (blocks about one period on a paced output); OSError if the
        device went away."""

    def stop(self) -> None:
        """The stream ended: let the device go (a later stream may use another)."""

    def close(self) -> None:
        """The session ended."""


class Input(Protocol):
    name: str

    def start(self, rate: int, channels: int) -> None:
        """Start capturing; OSError (with a one-line reason) if it cannot."""

    def read(self, frames: int) -> bytes:
        """The next ``frames`` frames, in real time; OSError if the device went away."""

    def stop(self) -> None: ...


@dataclass(frozen=True)
class AudioDevice:
    """A sound device as configured; ``output()`` and ``input()`` make it."""

    kind: str = "alsa"
    name: str = ""  # the ALSA device or card (empty: ALSA's default), or the WAV's path

    @classmethod
    def parse(cls, text: str) -> AudioDevice:
        kind, _, name = text.strip().partition(":")
        if kind not in KINDS or (kind == "none" and name) or (kind == "wav" and not name):
            raise ConfigError(f"unknown sound device {text!r}: none, alsa, alsa:DEVICE "
                              f"(an ALSA device or card name) or wav:PATH is expected")
        return cls(kind, name)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind

    def output(self) -> Output | None:
        if self.kind == "alsa":
            from .alsa import AlsaOutput  # noqa: PLC0415 - ALSA only when it is used
            return AlsaOutput(self.name)
        if self.kind == "wav":
            from .wav import WavOutput  # noqa: PLC0415
            return WavOutput(Path(self.name))
        return None

    def input(self) -> Input | None:
        if self.kind == "alsa":
            from .alsa import AlsaInput  # noqa: PLC0415
            return AlsaInput(self.name)
        if self.kind == "wav":
            from .wav import WavInput  # noqa: PLC0415
            return WavInput(Path(self.name))
        return None


NO_DEVICE = AudioDevice("none")


@dataclass(frozen=True)
class AudioDevices:
    """Where a session plays the guest's sound, and what it records as its microphone.
    With ``none`` the channel is not even opened, so the server sends nothing."""

    playback: AudioDevice = NO_DEVICE
    microphone: AudioDevice = NO_DEVICE
    volume: int = 100  # the box's own, in %, on top of the guest's
