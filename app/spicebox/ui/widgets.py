"""The setup UI's widgets: buttons, text fields, choices and notes.

A widget draws itself in the box the page layout gives it and reacts to keys and clicks;
the app decides which widget has the focus and where each one is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from evdev import ecodes as e

from ..canvas.surface import Box
from .keys import ENTER, KeyPress
from .paint import (
    ACCENT,
    DANGER,
    FOCUS,
    MUTED,
    PANEL,
    TEXT,
    Color,
    Metrics,
    Painter,
    line_height,
    text_width,
    wrap,
)

Action = Callable[[], None]


class Widget:
    focusable = True
    types_text = False  # an on-screen keyboard helps with it

    def height(self, m: Metrics, width: int) -> int:
        return m.row

    def draw(self, p: Painter, m: Metrics, box: Box, focused: bool) -> None:
        raise NotImplementedError

    def key(self, press: KeyPress) -> bool:
        """Whether the widget used the key (else the app may: Tab, arrows, Enter, Esc)."""
        return False

    def click(self, x: int, box: Box) -> None:
        """The pointer was pressed and released on the widget at column x."""


def _frame(p: Painter, m: Metrics, box: Box, color: Color, focused: bool) -> None:
    p.fill(box, color, m.px(6))
    if focused:
        p.outline(box, FOCUS, m.px(3), m.px(6))


class Button(Widget):
    """Does ``action`` on Enter, Space or a click. With a ``detail`` it is a list entry:
    the label on the left, the detail on the right."""

    STYLES: ClassVar[dict[str, Color]] = {"normal": PANEL, "primary": ACCENT,
                                          "danger": DANGER}

    def __init__(self, label: str, action: Action, style: str = "normal",
                 detail: str = "") -> None:
        self.label, self.action, self.detail = label, action, detail
        self.color = self.STYLES[style]

    def draw(self, p: Painter, m: Metrics, box: Box, focused: bool) -> None:
        _frame(p, m, box, self.color, focused)
        middle = (box.top + box.bottom) // 2
        if self.detail:
            half = box.width // 2
            p.text(self.label, box.left + m.pad, middle, m.text, TEXT, half - m.pad,
                   center=True)
            p.text(self.detail, box.left + half, middle, m.small, MUTED, half - m.pad,
                   center=True)
        else:
            width = min(text_width(self.label, m.text), box.width - 2 * m.pad)
            p.text(self.label, box.left + (box.width - width) // 2, middle, m.text, TEXT,
                   box.width - 2 * m.pad, center=True)

    def key(self, press: KeyPress) -> bool:
        if press.code in ENTER or press.code == e.KEY_SPACE:
            self.action()
            return True
        return False

    def click(self, x: int, box: Box) -> None:
        self.action()


def _split(box: Box) -> int:
    return box.left + box.width * 2 // 5


def _label_split(m: Metrics, box: Box) -> tuple[Box, Box]:
    """A row's label part and its value part."""
    split = _split(box)
    return (Box(box.left, box.top, split, box.bottom),
            Box(split + m.gap, box.top, box.right, box.bottom))


class Field(Widget):
    """A line of text to edit, with the caret where the user puts it."""

    types_text = True

    def __init__(self, label: str, text: str = "", secret: bool = False,
                 hint: str = "", on_enter: Action | None = None) -> None:
        self.label, self.text, self.secret, self.hint = label, text, secret, hint
        self.on_enter = on_enter  # else Enter moves on to the next widget
        self.caret = len(text)

    def draw(self, p: Painter, m: Metrics, box: Box, focused: bool) -> None:
        label, value = _label_split(m, box)
        middle = (box.top + box.bottom) // 2
        p.text(self.label, label.left, middle, m.text, TEXT, label.width, center=True)
        _frame(p, m, value, PANEL, focused)
        inner = value.width - 2 * m.pad
        shown = "•" * len(self.text) if self.secret else self.text
        if not shown and not focused:
            p.text(self.hint, value.left + m.pad, middle, m.small, MUTED, inner, center=True)
            return
        before = shown[:self.caret]
        # Keep the caret in view: show the end of a long text when the caret is there.
        while before and text_width(before, m.text) > inner:
            before = before[1:]
        visible = before + shown[self.caret:]
        p.text(visible, value.left + m.pad, middle, m.text, TEXT, inner, center=True)
        if focused:
            x = value.left + m.pad + text_width(before, m.text)
            p.line((x, middle - m.text // 2), (x, middle + m.text // 2), FOCUS, m.px(2))

    def key(self, press: KeyPress) -> bool:
        code = press.code
        if code in ENTER and self.on_enter is not None:
            self.on_enter()
        elif press.char is not None and press.char.isprintable():
            self.text = self.text[:self.caret] + press.char + self.text[self.caret:]
            self.caret += 1
        elif code == e.KEY_BACKSPACE and self.caret > 0:
            self.text = self.text[:self.caret - 1] + self.text[self.caret:]
            self.caret -= 1
        elif code == e.KEY_DELETE:
            self.text = self.text[:self.caret] + self.text[self.caret + 1:]
        elif code == e.KEY_LEFT:
            self.caret = max(0, self.caret - 1)
        elif code == e.KEY_RIGHT:
            self.caret = min(len(self.text), self.caret + 1)
        elif code == e.KEY_HOME:
            self.caret = 0
        elif code == e.KEY_END:
            self.caret = len(self.text)
        else:
            return code == e.KEY_BACKSPACE
        return True

    def click(self, x: int, box: Box) -> None:
        self.caret = len(self.text)


class Choice(Widget):
    """One of a few values: Left/Right (or Enter, or a click) steps through them."""

    def __init__(self, label: str, options: Sequence[tuple[str, str]], value: str,
                 on_change: Callable[[str], None] | None = None) -> None:
        if not options:
            raise ValueError(f"choice {label!r} has nothing to choose from")
        self.label, self.options, self.on_change = label, list(options), on_change
        values = [v for v, _ in self.options]
        self.index = values.index(value) if value in values else 0

    @property
    def value(self) -> str:
        return self.options[self.index][0]

    def draw(self, p: Painter, m: Metrics, box: Box, focused: bool) -> None:
        label, value = _label_split(m, box)
        middle = (box.top + box.bottom) // 2
        p.text(self.label, label.left, middle, m.text, TEXT, label.width, center=True)
        _frame(p, m, value, PANEL, focused)
        shown = self.options[self.index][1]
        p.text(f"◀  {shown}  ▶", value.left + m.pad, middle, m.text, TEXT,
               value.width - 2 * m.pad, center=True)

    def step(self, by: int) -> None:
        self.index = (self.index + by) % len(self.options)
        if self.on_change is not None:
            self.on_change(self.value)

    def key(self, press: KeyPress) -> bool:
        if press.code == e.KEY_LEFT:
            self.step(-1)
        elif press.code in (e.KEY_RIGHT, e.KEY_SPACE) or press.code in ENTER:
            self.step(1)
        else:
            return False
        return True

    def click(self, x: int, box: Box) -> None:
        # The value's left quarter (its "◀") steps back, the rest forward.
        split = _split(box)
        self.step(-1 if x < split + (box.right - split) // 4 else 1)


class Note(Widget):
    """Text to read, wrapped to the page's width."""

    focusable = False

    def __init__(self, text: str, color: Color = MUTED, small: bool = False) -> None:
        self.text, self.color, self.small = text, color, small

    def _size(self, m: Metrics) -> int:
        return m.small if self.small else m.text

    def height(self, m: Metrics, width: int) -> int:
        lines = len(wrap(self.text, self._size(m), width))
        return lines * line_height(self._size(m)) + m.gap

    def draw(self, p: Painter, m: Metrics, box: Box, focused: bool) -> None:
        size = self._size(m)
        for i, line in enumerate(wrap(self.text, size, box.width)):
            p.text(line, box.left, box.top + i * line_height(size), size, self.color)
