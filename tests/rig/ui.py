"""Drives the setup UI the way a person does: keys typed, pointer moved and clicked,
screen taps on the on-screen keyboard; and looks at what it draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import uvloop
from evdev import ecodes as e

from spicebox.canvas.surface import Surface
from spicebox.config.store import ConfigPaths, ConfigStore
from spicebox.input.events import Button, Key, PointerMotion
from spicebox.spice.constants import MouseButton
from spicebox.ui.app import Page, SetupApp
from spicebox.ui.keys import _US
from spicebox.ui.widgets import Choice, Field, Note, Widget

_CODE_OF = {chars[0]: (code, False) for code, chars in _US.items()
            if not str(e.KEY[code]).startswith("KEY_KP") and code != e.KEY_102ND}
_CODE_OF.update({chars[1]: (code, True) for code, chars in _US.items()
                 if chars[1] != chars[0] and not str(e.KEY[code]).startswith("KEY_KP")
                 and code != e.KEY_102ND})


class UiDriver:
    def __init__(self, config_dir: Path, size: tuple[int, int] = (800, 480),
                 kiosk: bool = False, import_dirs: tuple[Path, ...] = ()) -> None:
        self.store = ConfigStore(ConfigPaths.under(config_dir))
        self.app = SetupApp(self.store, *size, kiosk=kiosk, import_dirs=import_dirs)
        self.now = 0.0

    def open(self, page: Page) -> UiDriver:
        self.app.open(page)
        self.app.tick(self.now)
        return self

    @property
    def page(self) -> Page:
        return self.app.page

    # --- keyboard --------------------------------------------------------------------

    def key(self, code: int, shift: bool = False) -> None:
        if shift:
            self.app.handle(Key(e.KEY_LEFTSHIFT, True))
        self.app.handle(Key(code, True))
        self.app.handle(Key(code, False))
        if shift:
            self.app.handle(Key(e.KEY_LEFTSHIFT, False))

    def type(self, text: str) -> None:
        for char in text:
            code, shift = _CODE_OF[char]
            self.key(code, shift)

    def focus_by_keys(self, label: str) -> None:
        """Tab until the widget labelled ``label`` has the focus."""
        for _ in range(64):
            if _label(self.app.focused()) == label:
                return
            self.key(e.KEY_TAB)
        raise AssertionError(f"no focusable widget {label!r} on {self.page.title!r}")

    # --- pointer and touch ----------------------------------------------------------

    def tap_at(self, x: int, y: int) -> None:
        self.app.handle(PointerMotion(0, x, y, 0, 0))
        self.app.handle(Button(MouseButton.LEFT, True))
        self.app.handle(Button(MouseButton.LEFT, False))

    def box_of(self, label: str) -> tuple[int, int]:
        layout = self.app._layout()
        for widget, box in [*layout.rows, *layout.buttons]:
            if _label(widget) == label:
                if not (layout.body.top <= box.top and box.bottom <= layout.body.bottom) \
                        and (widget, box) in layout.rows:
                    continue  # scrolled out of sight: not tappable
                return (box.left + box.right) // 2, (box.top + box.bottom) // 2
        raise LookupError(label)

    def tap(self, label: str) -> None:
        """Tap the widget labelled ``label``, scrolling with the wheel to reach it."""
        for _ in range(32):
            try:
                x, y = self.box_of(label)
            except LookupError:
                self.app.handle(Button(MouseButton.DOWN, True))
                self.app.handle(Button(MouseButton.DOWN, False))
                continue
            self.tap_at(x, y)
            return
        raise AssertionError(f"no widget {label!r} on {self.page.title!r}")

    def tap_keys(self, text: str) -> None:
        """Type on the on-screen keyboard, switching its layers as a person would."""
        osk = self.app.keyboard
        self.app._layout()  # the keyboard lays out its keys where the screen has room
        for char in text:
            for _ in range(3):
                box = next((b for b, k in osk._keys if k.char == char), None)
                if box is not None:
                    break
                layer = next(b for b, k in osk._keys
                             if k.command == ("shift" if char.isupper() and not osk.symbols
                                              else "symbols"))
                self.tap_at((layer.left + layer.right) // 2, (layer.top + layer.bottom) // 2)
                self.app._layout()  # the keyboard lays out its new keys
            assert box is not None, f"no key {char!r} on the on-screen keyboard"
            self.tap_at((box.left + box.right) // 2, (box.top + box.bottom) // 2)
            self.app._layout()

    # --- what it shows --------------------------------------------------------------

    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.app.tick(self.now)

    def settle(self) -> None:
        """Run the slow work pages asked for (a TLS handshake...) to its end."""
        async def run() -> None:
            while self.app.jobs:
                job = self.app.jobs.pop(0)
                try:
                    result = await job.work()
                except Exception as exc:  # as the runner hands it over
                    result = exc
                self.app.deliver(job, result)
        uvloop.run(run())  # as the client runs them

    def render(self) -> np.ndarray:
        width, height = self.app.size
        surface = Surface(0, width, height, 32, True)
        self.app.render(surface.pixels)
        return surface.pixels

    def texts(self) -> list[str]:
        return [_label(w) for w in [*self.page.widgets, *self.page.buttons]]


def _label(widget: Widget | None) -> str:
    if isinstance(widget, Note):
        return widget.text
    return getattr(widget, "label", "")


def field(page: Page, label: str) -> Field:
    found = next(w for w in page.widgets if isinstance(w, Field) and w.label == label)
    return found


def choice(page: Page, label: str) -> Choice:
    return next(w for w in page.widgets if isinstance(w, Choice) and w.label == label)
