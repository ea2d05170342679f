"""Opus through the system's libopus (ctypes): the playback channel's compressed mode, and
the microphone's where the link is slow. There is no maintained Python binding (opuslib
was last released in 2018), and the calls needed are four."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

from ..spice.errors import ProtocolError

# opus_defines.h
OPUS_APPLICATION_AUDIO = 2049
# The longest packet Opus codes is 120 ms; at 48 kHz that is this many samples per channel.
MAX_PACKET_SAMPLES = 5760
# More than a 10 ms frame ever needs at any bitrate (spice-server allows 480 bytes).
MAX_PACKET_BYTES = 4000


def _load_libopus() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise ImportError(f"libopus is missing ({exc}): install the libopus0 package") \
            from None
    p, i, i32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int32
    error = ctypes.POINTER(ctypes.c_int)
    signatures: list[tuple[Any, list[Any], Any]] = [
        (lib.opus_decoder_create, [i, i, error], p),
        (lib.opus_decode, [p, p, i32, p, i, i], i),
        (lib.opus_decoder_destroy, [p], None),
        (lib.opus_encoder_create, [i, i, i, error], p),
        (lib.opus_encode, [p, p, i, p, i32], i32),
        (lib.opus_encoder_destroy, [p], None),
        (lib.opus_strerror, [i], ctypes.c_char_p),
    ]
    for fn, args, result in signatures:
        fn.argtypes = args
        fn.restype = result
    return lib


_lib: ctypes.CDLL | None = None


def _opus() -> ctypes.CDLL:
    # Loaded on first use: a client that plays raw sound never needs the library.
    global _lib  # noqa: PLW0603 - one process-wide handle
    if _lib is None:
        _lib = _load_libopus()
    return _lib


def available() -> bool:
    """Whether libopus can be loaded (the client offers Opus only then)."""
    try:
        _opus()
    except ImportError:
        return False
    return True


def _error(code: int) -> str:
    text: bytes = _opus().opus_strerror(code)
    return text.decode()


class OpusDecoder:
    """Opus packets to interleaved S16 frames."""

    def __init__(self, frequency: int, channels: int) -> None:
        lib = _opus()
        error = ctypes.c_int()
        self._state = lib.opus_decoder_create(frequency, channels, ctypes.byref(error))
        if not self._state:
            raise ProtocolError(f"Opus cannot decode {channels} channels at {frequency} Hz: "
                                f"{_error(error.value)}")
        self.channels = channels
        self._out = ctypes.create_string_buffer(MAX_PACKET_SAMPLES * channels * 2)

    def decode(self, packet: bytes) -> bytes:
        samples = _opus().opus_decode(self._state, packet, len(packet), self._out,
                                      MAX_PACKET_SAMPLES, 0)
        if samples < 0:
            raise ProtocolError(f"undecodable Opus packet: {_error(samples)}")
        return self._out.raw[:samples * self.channels * 2]

    def close(self) -> None:
        if self._state:
            _opus().opus_decoder_destroy(self._state)
            self._state = None


class OpusEncoder:
    """Interleaved S16 frames (2.5 to 60 ms of them) to one Opus packet each."""

    def __init__(self, frequency: int, channels: int) -> None:
        lib = _opus()
        error = ctypes.c_int()
        self._state = lib.opus_encoder_create(frequency, channels, OPUS_APPLICATION_AUDIO,
                                              ctypes.byref(error))
        if not self._state:
            raise ValueError(f"Opus cannot encode {channels} channels at {frequency} Hz: "
                             f"{_error(error.value)}")
        self.channels = channels
        self._out = ctypes.create_string_buffer(MAX_PACKET_BYTES)

    def encode(self, frames: bytes) -> bytes:
        samples = len(frames) // (2 * self.channels)
        size = _opus().opus_encode(self._state, frames, samples, self._out, MAX_PACKET_BYTES)
        if size < 0:
            raise ValueError(f"Opus cannot encode {samples} samples: {_error(size)}")
        return self._out.raw[:size]

    def close(self) -> None:
        if self._state:
            _opus().opus_encoder_destroy(self._state)
            self._state = None
