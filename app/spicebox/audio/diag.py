"""``spicebox diag audio``: a test tone on the output and a few seconds from the input, so
support can tell whether the box's own sound works before blaming the session."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .devices import AudioDevice
from .pcm import frame_bytes

RATE, CHANNELS = 48000, 2
TONE_HZ = 440
PERIOD = RATE // 100  # 10 ms


def tone(seconds: float, hz: float = TONE_HZ, amplitude: float = 0.3) -> bytes:
    """A sine as S16 stereo at RATE, faded in and out over 10 ms so it does not click."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = np.sin(2 * np.pi * hz * t) * amplitude * 32767
    edge = min(PERIOD, len(wave) // 2)
    wave[:edge] *= np.linspace(0, 1, edge)
    wave[len(wave) - edge:] *= np.linspace(1, 0, edge)
    return np.repeat(wave.astype("<i2"), CHANNELS).tobytes()


class Result(NamedTuple):
    ok: bool
    text: str


def play_tone(device: AudioDevice, seconds: float = 1.0, volume: int = 100) -> Result:
    output = device.output()
    if output is None:
        return Result(False, "none configured")
    try:
        output.start(RATE, CHANNELS)
        samples = tone(seconds, amplitude=0.3 * volume / 100)
        step = PERIOD * frame_bytes(CHANNELS)
        for start in range(0, len(samples), step):
            output.write(samples[start:start + step])
        output.write(bytes(output.latency_ms * RATE // 1000 * frame_bytes(CHANNELS)))
    except OSError as exc:
        return Result(False, str(exc))
    finally:
        output.close()
    return Result(True, f"played a {TONE_HZ} Hz tone for {seconds:g} s on {output.name}")


def listen(device: AudioDevice, seconds: float) -> Result:
    source = device.input()
    if source is None:
        return Result(False, "none configured")
    try:
        source.start(RATE, CHANNELS)
        data = b"".join(source.read(PERIOD) for _ in range(int(seconds * 100)))
    except OSError as exc:
        return Result(False, str(exc))
    finally:
        source.stop()
    heard = describe_sound(data, CHANNELS, RATE)
    return Result(heard != "silence", f"{seconds:g} s from {source.name}: {heard}")


def describe_sound(data: bytes, channels: int, rate: int) -> str:
    """Peak level in dBFS and the loudest frequency of the first channel."""
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)[:, 0].astype(np.float64)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak < 1:
        return "silence"
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0
    loudest = float(np.argmax(spectrum)) * rate / len(samples)
    return f"peak {20 * math.log10(peak / 32768):.1f} dBFS, loudest at {loudest:.0f} Hz"
