"""The on-screen keyboard, for touch screens and mice without a keyboard.

It types into the focused field through the same KeyPress path as a real keyboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from evdev import ecodes as e

from ..canvas.surface import Box
from .keys import KeyPress
from .paint import ACCENT, HEADER, PANEL, TEXT, Metrics, Painter, text_width

_LETTERS = ("1234567890", "qwertyuiop", "asdfghjkl-", "zxcvbnm.:/")
_SYMBOLS = ("!@#$%^&*()", "_=+[]{}\\|~", ";'\"`,<>?-", "&@#*.:/")


@dataclass(frozen=True)
class _Key:
    label: str
    char: str | None = None     # types this
    code: int = 0               # or sends this key
    command: str = ""           # or changes the keyboard: shift, symbols, hide
    width: float = 1.0          # in character-key widths


def _rows(shifted: bool, symbols: bool) -> list[list[_Key]]:
    chars = _SYMBOLS if symbols else _LETTERS
    rows = [[_Key(c.upper() if shifted else c, c.upper() if shifted else c) for c in row]
            for row in chars]
    rows[3] = [_Key("⇧", command="shift", width=1.5), *rows[3],
               _Key("⌫", code=e.KEY_BACKSPACE, width=1.5)]
    rows.append([_Key("abc" if symbols else "?123", command="symbols", width=1.5),
                 _Key("space", " ", width=4), _Key("◀", code=e.KEY_LEFT),
                 _Key("▶", code=e.KEY_RIGHT), _Key("Done", command="hide", width=2)])
    return rows


class OnScreenKeyboard:
    def __init__(self) -> None:
        self.shifted = False
        self.symbols = False
        self._keys: list[tuple[Box, _Key]] = []

    @staticmethod
    def height(m: Metrics) -> int:
        return 5 * m.px(40) + 6 * m.gap

    def layout(self, m: Metrics, area: Box) -> None:
        self._keys = []
        rows = _rows(self.shifted, self.symbols)
        key_h = m.px(40)
        y = area.top + m.gap
        for row in rows:
            units = sum(k.width for k in row)
            unit = (area.width - m.gap * (len(row) + 1)) / units
            x = area.left + m.gap
            for key in row:
                w = round(unit * key.width)
                self._keys.append((Box(round(x), y, round(x) + w, y + key_h), key))
                x += w + m.gap
            y += key_h + m.gap

    def draw(self, p: Painter, m: Metrics, area: Box) -> None:
        p.fill(area, HEADER)
        for box, key in self._keys:
            lit = key.command == "shift" and self.shifted
            p.fill(box, ACCENT if lit or key.command == "hide" else PANEL, m.px(5))
            w = text_width(key.label, m.text)
            p.text(key.label, box.left + (box.width - w) // 2, (box.top + box.bottom) // 2,
                   m.text, TEXT, box.width, center=True)

    def hit(self, x: int, y: int) -> bool:
        return any(box.contains(x, y) for box, _ in self._keys)

    def press(self, x: int, y: int) -> KeyPress | str | None:
        """What a tap at (x, y) does: a key for the focused field, a command for the app
        ("hide"), or nothing (the keyboard changed itself, or no key is there)."""
        for box, key in self._keys:
            if not box.contains(x, y):
                continue
            if key.command == "shift":
                self.shifted = not self.shifted
            elif key.command == "symbols":
                self.symbols, self.shifted = not self.symbols, False
            elif key.command:
                return key.command
            elif key.char is not None:
                if self.shifted:  # one capital, as phone keyboards do
                    self.shifted = False
                return KeyPress(0, key.char)
            else:
                return KeyPress(key.code)
            return None
        return None

