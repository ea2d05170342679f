"""Keys as the setup UI sees them: evdev codes turned into characters and editing keys.

The UI reads the same Linux key codes as the session (evdev on devices, SDL's scancodes
mapped to them on x11), so it turns them into text itself: in the configured layout
through libxkbcommon, or with the US table below where that library is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from evdev import ecodes as e

from ..input.xkb import XkbKeyboard
from ..input.xkb import available as xkb_available

# key code -> (unshifted, shifted)
_US: dict[int, tuple[str, str]] = {
    **{getattr(e, f"KEY_{c}"): (c.lower(), c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **{getattr(e, f"KEY_{d}"): (d, s) for d, s in zip("1234567890", "!@#$%^&*()", strict=True)},
    e.KEY_SPACE: (" ", " "), e.KEY_MINUS: ("-", "_"), e.KEY_EQUAL: ("=", "+"),
    e.KEY_LEFTBRACE: ("[", "{"), e.KEY_RIGHTBRACE: ("]", "}"),
    e.KEY_BACKSLASH: ("\\", "|"), e.KEY_SEMICOLON: (";", ":"),
    e.KEY_APOSTROPHE: ("'", '"'), e.KEY_GRAVE: ("`", "~"), e.KEY_COMMA: (",", "<"),
    e.KEY_DOT: (".", ">"), e.KEY_SLASH: ("/", "?"), e.KEY_102ND: ("<", ">"),
    **{getattr(e, f"KEY_KP{d}"): (d, d) for d in "0123456789"},
    e.KEY_KPDOT: (".", "."), e.KEY_KPMINUS: ("-", "-"), e.KEY_KPPLUS: ("+", "+"),
    e.KEY_KPASTERISK: ("*", "*"), e.KEY_KPSLASH: ("/", "/"),
}
_SHIFT = {e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT}
_CTRL = {e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL}
_MODIFIERS = {*_SHIFT, *_CTRL, e.KEY_CAPSLOCK, e.KEY_NUMLOCK, e.KEY_LEFTALT, e.KEY_RIGHTALT,
              e.KEY_LEFTMETA, e.KEY_RIGHTMETA}
ENTER = {e.KEY_ENTER, e.KEY_KPENTER}


@dataclass(frozen=True)
class KeyPress:
    """A key going down, with the text it types, if any."""

    code: int
    char: str | None = None
    shift: bool = False
    ctrl: bool = False


class KeyReader:
    """Tracks the modifiers and lock keys and turns key-down events into KeyPresses."""

    def __init__(self, layout: str = "us", variant: str = "") -> None:
        self._held: set[int] = set()
        self._caps = False  # for the US table (xkb keeps its own lock state)
        self._xkb = XkbKeyboard(layout, variant) if xkb_available() else None

    def feed(self, code: int, pressed: bool) -> KeyPress | None:
        if not pressed:
            self._held.discard(code)
            if self._xkb is not None:
                self._xkb.release(code)
            return None
        self._held.add(code)
        text = self._xkb.press(code) if self._xkb is not None else None
        if code == e.KEY_CAPSLOCK:
            self._caps = not self._caps
        if code in _MODIFIERS:
            return None
        shift = bool(self._held & _SHIFT)
        ctrl = bool(self._held & _CTRL)
        if ctrl:
            return KeyPress(code, None, shift, ctrl)
        if text is not None:  # the layout's (empty for dead keys: not composed)
            return KeyPress(code, text if len(text) == 1 and text.isprintable() else None,
                            shift, ctrl)
        pair = _US.get(code)
        char = None
        if pair is not None:
            upper = shift != (self._caps and pair[0].isalpha())
            char = pair[1] if upper else pair[0]
        return KeyPress(code, char, shift, ctrl)

    def release_all(self) -> None:
        self._held.clear()
        if self._xkb is not None:
            self._xkb.release_all()
