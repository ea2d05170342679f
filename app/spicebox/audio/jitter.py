"""The sound between the network and a device that takes it at its own pace.

Packets arrive in bursts (the network, the server's and the guest's schedulers) and the
device takes one period at a time. Holding ``target`` frames absorbs the bursts; holding
more only delays the sound, so past ``limit`` the oldest frames are dropped back to the
target (a burst, or a device whose clock runs slower than the server's). When it runs dry
the device gets silence, and playback waits until ``target`` frames are held again, so
one late packet costs one gap instead of a stutter. Both edges of a gap are faded, so it
does not click.

Every packet carries the multimedia time at which the server took it: ``next_time`` is
the time of the next frame out, which the session's clock follows while sound plays (as
in spice-gtk, where video is timed against the audio).
"""

from __future__ import annotations

from collections import deque

from .pcm import frame_bytes, ramp

FADE_MS = 5


class JitterBuffer:
    def __init__(self, rate: int, channels: int, target_frames: int, limit_frames: int) -> None:
        self.rate, self.channels = rate, channels
        self._frame = frame_bytes(channels)
        self.target_frames, self.limit_frames = target_frames, limit_frames
        self._packets: deque[tuple[int, bytes]] = deque()  # (mm time, frames)
        self._offset = 0  # frames of the first packet already taken
        self.held_frames = 0
        self._playing = False  # between priming and running dry
        self._fade = rate * FADE_MS // 1000
        self.underruns = 0
        self.dropped_frames = 0

    def put(self, time: int, frames: bytes) -> None:
        if not frames:
            return
        self._packets.append((time, frames))
        self.held_frames += len(frames) // self._frame
        if self.held_frames > self.limit_frames:
            self._drop(self.held_frames - self.target_frames)

    def take(self, count: int) -> bytes:
        """Exactly ``count`` frames: sound where there is some, silence elsewhere."""
        if not self._playing:
            if self.held_frames < max(self.target_frames, count):
                return bytes(count * self._frame)
            self._playing = True
            return ramp(self._read(count), self.channels, rising=True)
        if self.held_frames >= count:
            return self._read(count)
        # Running dry: fade out what is left rather than stop at full amplitude.
        self._playing = False
        self.underruns += 1
        left = self._read(self.held_frames)
        edge = len(left) - min(len(left), self._fade * self._frame)
        faded = left[:edge] + ramp(left[edge:], self.channels, rising=False)
        return faded + bytes(count * self._frame - len(left))

    @property
    def next_time(self) -> int | None:
        """The multimedia time of the next frame out, if any is held."""
        if not self._packets:
            return None
        return (self._packets[0][0] + self._offset * 1000 // self.rate) & 0xFFFFFFFF

    def clear(self) -> None:
        self._packets.clear()
        self._offset = self.held_frames = 0
        self._playing = False

    def _read(self, count: int) -> bytes:
        out = bytearray()
        while count:
            frames = self._packets[0][1]
            start = self._offset * self._frame
            n = min(count, (len(frames) - start) // self._frame)
            out += frames[start:start + n * self._frame]
            self._consume(n)
            count -= n
        return bytes(out)

    def _drop(self, count: int) -> None:
        self.dropped_frames += count
        while count:
            frames = self._packets[0][1]
            n = min(count, len(frames) // self._frame - self._offset)
            self._consume(n)
            count -= n

    def _consume(self, count: int) -> None:
        self._offset += count
        self.held_frames -= count
        if self._offset * self._frame >= len(self._packets[0][1]):
            self._packets.popleft()
            self._offset = 0
