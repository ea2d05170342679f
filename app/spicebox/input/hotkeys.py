"""Hotkeys: key combinations the client keeps for itself instead of passing them on.

A hotkey is modifiers plus one key, written like remote-viewer's ("ctrl+alt+end"). Its
modifiers reach the guest as they are pressed (the client cannot know yet that a hotkey
is coming), its key does not; so the hotkey that sends Ctrl+Alt+Del only has to tap
Delete while the guest already holds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Key

# evdev codes of the modifiers, both sides, by the name hotkeys use.
MODIFIERS = {"ctrl": (29, 97), "alt": (56, 100), "shift": (42, 54), "super": (125, 126)}
_SIDE_OF = {code: name for name, codes in MODIFIERS.items() for code in codes}
KEY_DELETE = 111
# Key names hotkeys may use, as evdev codes: letters, digits, F-keys, a few others.
KEY_NAMES = {
    **{chr(ord("a") + i): code for i, code in enumerate(
        (30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20,
         22, 47, 17, 45, 21, 44))},
    **{str((i + 1) % 10): 2 + i for i in range(10)},
    **{f"f{i}": code for i, code in enumerate((59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88),
                                              start=1)},
    "end": 107, "home": 102, "insert": 110, "delete": KEY_DELETE, "pause": 119,
    "escape": 1, "esc": 1, "space": 57, "enter": 28, "tab": 15, "backspace": 14,
}

DEFAULT_HOTKEYS = {
    "setup": "ctrl+alt+shift+s",           # leave the session for the setup menu
    "ctrl-alt-del": "ctrl+alt+end",        # Ctrl+Alt+Del for the guest, not this box
    "fullscreen": "ctrl+alt+shift+f",      # development window only
    "release-pointer": "shift+f12",        # a window's pointer back (remote-viewer's key)
}


class HotkeyError(ValueError):
    pass


@dataclass(frozen=True)
class Hotkey:
    modifiers: frozenset[str]
    key: int

    @classmethod
    def parse(cls, text: str) -> Hotkey:
        parts = [p.strip().lower() for p in text.split("+")]
        *mods, key = parts
        unknown = [m for m in mods if m not in MODIFIERS]
        if unknown or not mods:
            raise HotkeyError(f"hotkey {text!r}: modifiers are {', '.join(MODIFIERS)}, "
                              "at least one, then one key")
        if key not in KEY_NAMES:
            raise HotkeyError(f"hotkey {text!r}: unknown key {key!r} (letters, digits, "
                              "f1-f12, end, home, insert, delete, pause, escape, ...)")
        return cls(frozenset(mods), KEY_NAMES[key])


class Hotkeys:
    """Filters the key stream: ``feed`` returns the keys to pass on and, when a hotkey
    was pressed, its action."""

    def __init__(self, bindings: dict[str, str] | None = None) -> None:
        spec = DEFAULT_HOTKEYS if bindings is None else bindings
        self.bindings = {action: Hotkey.parse(text) for action, text in spec.items()}
        self._held: set[int] = set()
        self._swallowed: set[int] = set()  # hotkey keys whose release stays ours too

    def feed(self, key: Key) -> tuple[list[Key], str | None]:
        if key.code in _SIDE_OF:
            (self._held.add if key.pressed else self._held.discard)(key.code)
            return [key], None
        if not key.pressed and key.code in self._swallowed:
            self._swallowed.discard(key.code)
            return [], None
        if key.pressed:
            held = frozenset(_SIDE_OF[c] for c in self._held)
            for action, hotkey in self.bindings.items():
                if hotkey.key == key.code and hotkey.modifiers == held:
                    self._swallowed.add(key.code)
                    return [], action
        return [key], None
