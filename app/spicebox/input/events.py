"""What input sources report to the session, whatever the device behind them."""

from __future__ import annotations

from dataclasses import dataclass

from ..spice.constants import KeyModifiers, MouseButton


@dataclass(frozen=True)
class Key:
    code: int  # Linux evdev key code (KEY_*)
    pressed: bool


@dataclass(frozen=True)
class PointerMotion:
    """The pointer moved: by (dx, dy), to (x, y) within monitor ``monitor``."""

    monitor: int
    x: int
    y: int
    dx: int
    dy: int


@dataclass(frozen=True)
class Button:
    button: MouseButton
    pressed: bool


@dataclass(frozen=True)
class Locks:
    """The local lock keys' state, when the session should make the guest's match it
    (the window gained focus, or the device's LEDs are the truth)."""

    modifiers: KeyModifiers


@dataclass(frozen=True)
class FocusLost:
    """Keys held now will not be seen going up: release them in the guest."""


@dataclass(frozen=True)
class LocalClipboardChanged:
    """Something may have been copied on this side (in another window of the development
    desktop): the presenter's clipboard says what."""


@dataclass(frozen=True)
class OutputResized:
    """The user gave the window a new size: the guest may take it (dynamic resolution)."""

    width: int
    height: int


@dataclass(frozen=True)
class QuitRequested:
    """The user closed the window (development backend)."""


InputEvent = (Key | PointerMotion | Button | Locks | FocusLost | LocalClipboardChanged
              | OutputResized | QuitRequested)
