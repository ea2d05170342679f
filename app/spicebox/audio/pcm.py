"""Interleaved signed 16-bit little-endian frames, the only sample format SPICE carries."""

from __future__ import annotations

import numpy as np

SAMPLE_BYTES = 2
FULL_VOLUME = 0xFFFF


def frame_bytes(channels: int) -> int:
    return SAMPLE_BYTES * channels


def apply_level(frames: bytes, channels: int, volume: tuple[int, ...], muted: bool) -> bytes:
    """``frames`` at the guest's volume (0..65535 per channel, linear as in spice-gtk) and
    mute. Full volume, the common case, returns the frames untouched."""
    if muted:
        return bytes(len(frames))
    if not volume or all(v >= FULL_VOLUME for v in volume):
        return frames
    gains = np.array([volume[min(c, len(volume) - 1)] / FULL_VOLUME for c in range(channels)],
                     dtype=np.float32)
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    return (samples * gains).astype("<i2").tobytes()


def ramp(frames: bytes, channels: int, rising: bool) -> bytes:
    """``frames`` faded in (or out) linearly over their length: a gap that starts or ends
    at full amplitude clicks."""
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    if not len(samples):
        return frames
    shape = np.linspace(0.0, 1.0, len(samples), dtype=np.float32)
    if not rising:
        shape = shape[::-1]
    return (samples * shape[:, None]).astype("<i2").tobytes()
