"""Keys as the setup UI sees them: evdev codes turned into characters and editing keys.

The UI reads the same Linux key codes as the session (evdev on devices, SDL's scancodes
mapped to them on x11), so it turns them into text itself. The table is the US layout;
the Keyboard page will choose others.
"""

from __future__ import annotations

from dataclasses import dataclass

from evdev import ecodes as e

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
ENTER = {e.KEY_ENTER, e.KEY_KPENTER}


@dataclass(frozen=True)
class KeyPress:
    """A key going down, with the text it types, if any. (Held keys do not repeat: the
    evdev source passes on presses and releases only.)"""

    code: int
    char: str | None = None
    shift: bool = False
    ctrl: bool = False


class KeyReader:
    """Tracks the modifiers and caps lock and turns key-down events into KeyPresses."""

    def __init__(self) -> None:
        self._held: set[int] = set()
        self._caps = False

    def feed(self, code: int, pressed: bool) -> KeyPress | None:
        if not pressed:
            self._held.discard(code)
            return None
        self._held.add(code)
        if code == e.KEY_CAPSLOCK:
            self._caps = not self._caps
        if code in _SHIFT or code in _CTRL or code == e.KEY_CAPSLOCK:
            return None
        shift = bool(self._held & _SHIFT)
        ctrl = bool(self._held & _CTRL)
        pair = _US.get(code)
        char = None
        if pair is not None and not ctrl:
            upper = shift != (self._caps and pair[0].isalpha())
            char = pair[1] if upper else pair[0]
        return KeyPress(code, char, shift, ctrl)

    def release_all(self) -> None:
        self._held.clear()
