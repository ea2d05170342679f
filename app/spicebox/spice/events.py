"""Events the sans-IO channels hand to the session, besides decoded server messages."""

from __future__ import annotations

from dataclasses import dataclass

from ..codecs.cursor import CursorShape
from .agent import ClipboardType
from .constants import KeyModifiers, MouseMode
from .messages import ChannelId
from .wire import Message


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class ChannelLinked(Event):
    channel_type: int
    channel_id: int
    common_caps: frozenset[int]
    channel_caps: frozenset[int]


@dataclass(frozen=True)
class ServerNotice(Event):
    """A NOTIFY message: shown in logs, and to the user when it is an error."""

    severity: int
    text: str


@dataclass(frozen=True)
class ServerDisconnecting(Event):
    reason: int


@dataclass(frozen=True)
class SessionStarted(Event):
    session_id: int
    display_channels_hint: int
    agent_connected: bool


@dataclass(frozen=True)
class MediaTime(Event):
    """The server's multimedia time now (ms), for the session's MediaClock."""

    mm_time: int


@dataclass(frozen=True)
class ChannelsAvailable(Event):
    channels: tuple[ChannelId, ...]


@dataclass(frozen=True)
class MouseModeChanged(Event):
    """Which mouse mode is in force: SERVER (relative motion) or CLIENT (positions)."""

    mode: MouseMode
    supported: MouseMode


@dataclass(frozen=True)
class AgentChanged(Event):
    """The guest agent came, went, or told what it can do (VD_AGENT_CAP_* numbers)."""

    connected: bool
    caps: frozenset[int]


@dataclass(frozen=True)
class GuestClipboard(Event):
    """What the guest copied: UTF-8 text or a PNG."""

    type: ClipboardType
    data: bytes


@dataclass(frozen=True)
class GuestLocks(Event):
    """The guest's Caps/Num/Scroll Lock state (INPUTS INIT or KEY_MODIFIERS)."""

    locks: KeyModifiers


@dataclass(frozen=True)
class CursorState(Event):
    """The guest pointer: its shape (None: no pointer), where the server puts its hot
    spot, and whether it shows."""

    shape: CursorShape | None
    x: int
    y: int
    visible: bool


@dataclass(frozen=True)
class AudioStart(Event):
    """A playback stream begins (sound for the speakers), or the server wants the
    microphone (record). ``mode`` is how the samples travel (AudioDataMode)."""

    channels: int
    frequency: int
    mode: int


@dataclass(frozen=True)
class AudioData(Event):
    """One playback packet: raw S16 frames or one Opus packet, and the multimedia time at
    which the server took it."""

    time: int
    data: bytes


@dataclass(frozen=True)
class AudioStop(Event):
    pass


@dataclass(frozen=True)
class AudioLevel(Event):
    """The guest's volume for this stream (0..65535 per channel) and whether it is muted."""

    volume: tuple[int, ...]
    muted: bool


@dataclass(frozen=True)
class AudioLatency(Event):
    """How far sound should lag so that it stays in step with the video (ms)."""

    latency_ms: int


@dataclass(frozen=True)
class UsbData(Event):
    """A piece of a usbredir channel's byte stream (spice/usbredir.py parses it)."""

    data: bytes


ChannelEvent = Event | Message
