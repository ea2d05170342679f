"""The setup UI as a state machine: input events in, a redrawn screen out.

``SetupApp`` keeps a stack of pages, the focus, the scroll position and the on-screen
keyboard, and turns keys, clicks and taps into widget actions. It does no IO of its own:
pages hand slow work (a TLS handshake, a reachability check) to ``start``, and the runner
(``ui.runner``) runs it on the event loop; the same for time (``tick``). Tests drive it
directly with events and look at the configuration and the pixels.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evdev import ecodes as e

from ..canvas.surface import Box
from ..codecs.pixels import Pixels
from ..config.settings import Config
from ..config.store import ConfigStore
from ..config.target import ConfigError
from ..input.events import Button as PointerButton
from ..input.events import FocusLost, InputEvent, Key, PointerMotion
from ..input.xkb import LayoutError
from ..spice.constants import MouseButton
from .keys import ENTER, KeyPress, KeyReader
from .osk import OnScreenKeyboard
from .paint import (
    BACKGROUND,
    ERROR,
    HEADER,
    MUTED,
    TEXT,
    Color,
    Metrics,
    Painter,
    line_height,
    text_width,
    wrap,
)
from .widgets import Button, Widget

log = logging.getLogger(__name__)

# What the UI ends with: connect to the default profile now, or leave (setup closed).
CONNECT, CLOSE = "connect", "close"
REPEAT_DELAY, REPEAT_INTERVAL = 0.5, 1 / 25  # a held key, as a console repeats it

Done = Callable[[Any], None]


@dataclass
class Idle:
    """How long the screen has gone without input, across the kiosk's screens (each
    reconnect attempt shows a new one: an offline box must still go dark)."""

    last_input: float | None = None  # on the runner's clock (time.monotonic)
    blanked: bool = False  # dark, to spare the screen


@dataclass
class Job:
    """Slow work a page asked for; ``done`` gets its result or the exception it raised."""

    work: Callable[[], Awaitable[Any]]  # made into a coroutine when the runner starts it
    done: Done
    page: Page  # the page that asked: the result is dropped once the user closed it


class Page:
    """A screen of the UI: a title, widgets stacked in a scrolling body, buttons along
    the bottom and a status line above them."""

    title = ""

    def __init__(self, app: SetupApp) -> None:
        self.app = app
        self.widgets: list[Widget] = []
        self.buttons: list[Button] = []
        self.focus = 0
        self.scroll = 0
        self.status = ""
        self.status_color: Color = MUTED

    def start(self, work: Callable[[], Awaitable[Any]], done: Done) -> None:
        """Slow work for this page (it may not be shown yet: pages start some as they
        are made); ``done`` gets the result while the page is the one shown."""
        self.app.start(self, work, done)

    def say(self, text: str, error: bool = False) -> None:
        self.status, self.status_color = text, ERROR if error else MUTED
        self.app.dirty = True

    def back(self) -> None:
        """Esc, or the Back button."""
        self.app.back()

    def leave(self, done: str) -> None:
        """Back to the page underneath, which says what was ``done`` here."""
        self.app.back()
        self.app.page.say(done)

    def shown(self) -> None:
        """The page is on top again (the one above it closed): show what changed."""

    def tick(self, now: float) -> float | None:
        """Time passed; return when to be called next (None: no need)."""
        return None


class SetupApp:
    def __init__(self, store: ConfigStore, width: int, height: int, kiosk: bool,
                 import_dirs: tuple[Path, ...] = (), idle: Idle | None = None) -> None:
        self.store = store
        self.import_dirs = import_dirs  # where .vv files are looked for (default: USB sticks)
        self.kiosk = kiosk  # started by `spicebox run`: it connects when the UI is done
        self.result: str | None = None
        self.unlocked = False  # the admin PIN was entered in this visit
        self.dirty = True
        self.jobs: list[Job] = []
        # Asks the runner for a turn when something changes outside an input event (a
        # signal asking the UI to finish, a job queued); the runner sets it.
        self.wake: Callable[[], None] = lambda: None
        self.stack: list[Page] = []
        self.keyboard = OnScreenKeyboard()
        self.keyboard_shown = False
        self._keys = self._key_reader()
        self._held: KeyPress | None = None
        self._repeat_at = 0.0
        self._now = 0.0  # the runner's clock, as of the last tick
        self.idle = idle or Idle()
        self._blank_after = 60.0 * self.config().display.blank_after
        self._pointer = (0, 0)
        self._pressed: object = None
        self.resize(width, height)

    # --- what pages use --------------------------------------------------------------

    @property
    def page(self) -> Page:
        return self.stack[-1]

    def open(self, page: Page) -> None:
        self.stack.append(page)
        self.keyboard_shown = False
        self.dirty = True

    def back(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()
            self.keyboard_shown = False
            self.page.shown()
            self.dirty = True
        elif not self.kiosk:
            self.finish(CLOSE)

    def finish(self, result: str) -> None:
        self.result = result
        self.wake()

    def start(self, page: Page, work: Callable[[], Awaitable[Any]], done: Done) -> None:
        """Run ``work`` on the event loop; ``done`` gets its result or exception, if
        ``page`` is still open then."""
        self.jobs.append(Job(work, done, page))
        self.wake()

    def deliver(self, job: Job, result: object) -> None:
        if any(page is job.page for page in self.stack):  # else the user left that page
            job.done(result)
            self.dirty = True

    def _key_reader(self) -> KeyReader:
        try:
            keyboard = self.store.load().input
            return KeyReader(keyboard.keyboard_layout, keyboard.keyboard_variant or "")
        except ConfigError:
            return KeyReader()  # the page says what is wrong with the file
        except LayoutError as exc:
            log.warning("%s; typing in setup uses the US layout", exc)
            return KeyReader()

    def settings_changed(self) -> None:
        """A page saved settings: the keyboard layout and blanking apply at once."""
        self._keys = self._key_reader()
        self._blank_after = 60.0 * self.config().display.blank_after

    @property
    def blanked(self) -> bool:
        return self.idle.blanked

    def config(self) -> Config:
        """The configuration now; the defaults while the files are broken (the page then
        says why)."""
        try:
            return self.store.load()
        except ConfigError as exc:
            if self.stack:
                self.page.say(f"{exc}: fix the file, or change the setting here", error=True)
            return Config()

    # --- input ------------------------------------------------------------------------

    def handle(self, event: InputEvent) -> None:
        if isinstance(event, (Key, PointerButton, PointerMotion)):
            self.idle.last_input = self._now
        if self.blanked and isinstance(event, (Key, PointerButton)):
            # A key, a click or a tap wakes the screen and does nothing else: a tap on a
            # dark screen must not press a button the user cannot see.
            self.idle.blanked, self.dirty = False, True
            if isinstance(event, Key) and event.pressed:
                self._keys.feed(event.code, True)  # its release will come
            return
        if isinstance(event, Key):
            press = self._keys.feed(event.code, event.pressed)
            if press is not None:
                self._key(press)
                # Sources pass on presses only: a held key repeats here, as typing expects.
                self._held, self._repeat_at = press, self._now + REPEAT_DELAY
            elif self._held is not None and self._held.code == event.code:
                self._held = None
        elif isinstance(event, PointerMotion):
            if event.monitor == 0:
                self._pointer = (event.x, event.y)
        elif isinstance(event, PointerButton):
            self._button(event)
        elif isinstance(event, FocusLost):
            self._keys.release_all()
            self._held = None

    def _focusables(self) -> list[Widget]:
        page = self.page
        return [*(w for w in page.widgets if w.focusable), *page.buttons]

    def focused(self) -> Widget | None:
        focusables = self._focusables()
        if not focusables:
            return None
        self.page.focus = min(self.page.focus, len(focusables) - 1)
        return focusables[self.page.focus]

    def focus_on(self, widget: Widget) -> None:
        focusables = self._focusables()
        if widget in focusables:
            self.page.focus = focusables.index(widget)
            self.dirty = True

    def _key(self, press: KeyPress) -> None:
        self.dirty = True
        widget = self.focused()
        if widget is not None and widget.key(press):
            return
        code = press.code
        if code == e.KEY_TAB:
            self._move(-1 if press.shift else 1)
        elif code == e.KEY_DOWN or code in ENTER:
            self._move(1)
        elif code == e.KEY_UP:
            self._move(-1)
        elif code in (e.KEY_LEFT, e.KEY_RIGHT) and any(widget is b for b in self.page.buttons):
            self._move(-1 if code == e.KEY_LEFT else 1)
        elif code == e.KEY_ESC:
            if self.keyboard_shown:
                self.keyboard_shown = False
            else:
                self.page.back()
        elif code in (e.KEY_PAGEUP, e.KEY_PAGEDOWN):
            self._scroll_by(self._layout().body.height * (-1 if code == e.KEY_PAGEUP else 1))

    def _move(self, by: int) -> None:
        count = len(self._focusables())
        if count:
            self.page.focus = (self.page.focus + by) % count
            self._reveal()

    def _reveal(self) -> None:
        """Scroll the focused widget into view."""
        layout = self._layout()
        widget = self.focused()
        box = next((b for w, b in layout.rows if w is widget), None)
        if box is None:
            return
        if box.top < layout.body.top:
            self.page.scroll -= layout.body.top - box.top
        elif box.bottom > layout.body.bottom:
            self.page.scroll += box.bottom - layout.body.bottom

    def _scroll_by(self, pixels: int) -> None:
        self.page.scroll += pixels
        self.dirty = True

    def _button(self, event: PointerButton) -> None:
        x, y = self._pointer
        if event.button in (MouseButton.UP, MouseButton.DOWN):
            if event.pressed:
                self._scroll_by(self.metrics.row * (-1 if event.button == MouseButton.UP
                                                    else 1))
            return
        if event.button != MouseButton.LEFT:
            return
        target = self._hit(x, y)
        if event.pressed:
            self._pressed = target
            return
        pressed, self._pressed = self._pressed, None
        if target is None or target != pressed:
            return  # pressed on one thing, released on another: a cancelled tap
        self.dirty = True
        if target == "keyboard":
            self._keyboard_tap(x, y)
            return
        assert isinstance(target, tuple)
        widget, box = target
        self.focus_on(widget)
        self.keyboard_shown = widget.types_text
        widget.click(x, box)

    def _keyboard_tap(self, x: int, y: int) -> None:
        pressed = self.keyboard.press(x, y)
        if pressed == "hide":
            self.keyboard_shown = False
        elif isinstance(pressed, KeyPress):
            widget = self.focused()
            if widget is not None:
                widget.key(pressed)

    def _hit(self, x: int, y: int) -> object:
        layout = self._layout()
        if layout.keyboard is not None and layout.keyboard.contains(x, y):
            return "keyboard" if self.keyboard.hit(x, y) else None
        for widget, box in layout.buttons:
            if box.contains(x, y):
                return (widget, box)
        if layout.body.contains(x, y):
            for widget, box in layout.rows:
                if box.contains(x, y) and widget.focusable:
                    return (widget, box)
        return None

    def tick(self, now: float) -> float | None:
        """Let the page on top see the time (the ones under it wait), and repeat a held
        key; returns when to call again."""
        self._now = now
        idle = self.idle
        if idle.last_input is None:
            idle.last_input = now  # the screen's first moment counts as input
        if self._blank_after and not idle.blanked and now - idle.last_input >= self._blank_after:
            idle.blanked, self.dirty, self._held = True, True, None
        if self._held is not None and now >= self._repeat_at:
            self._key(self._held)
            self._repeat_at = now + REPEAT_INTERVAL
        times = [t for t in (self.page.tick(now),
                             self._repeat_at if self._held is not None else None,
                             None if idle.blanked or not self._blank_after
                             else idle.last_input + self._blank_after) if t is not None]
        return min(times) if times else None

    # --- layout and drawing ---------------------------------------------------------

    def resize(self, width: int, height: int) -> None:
        self.metrics = Metrics.for_size(width, height)
        self.size = (width, height)
        self.dirty = True

    def _layout(self) -> _Layout:
        m, (width, height), page = self.metrics, self.size, self.page
        bottom = height
        keyboard = None
        status: list[str] = []
        buttons: list[tuple[Widget, Box]] = []
        if self.keyboard_shown:
            keyboard = Box(0, height - self.keyboard.height(m), width, height)
            self.keyboard.layout(m, keyboard)
            bottom = keyboard.top
        else:
            status = wrap(page.status, m.small, width - 2 * m.pad)[:2] if page.status else []
            if page.buttons:
                count = len(page.buttons)
                bw = (width - m.pad * (count + 1)) // count
                top = height - m.pad - m.row
                for i, button in enumerate(page.buttons):
                    left = m.pad + i * (bw + m.pad)
                    buttons.append((button, Box(left, top, left + bw, top + m.row)))
                bottom = top - m.gap
            bottom -= len(status) * line_height(m.small)
        body = Box(m.pad, m.header + m.pad, width - m.pad, bottom - m.gap)
        heights = [w.height(m, body.width) for w in page.widgets]
        content = sum(heights) + m.gap * max(0, len(heights) - 1)
        page.scroll = max(0, min(page.scroll, content - body.height))
        rows, y = [], body.top - page.scroll
        for widget, h in zip(page.widgets, heights, strict=True):
            rows.append((widget, Box(body.left, y, body.right, y + h)))
            y += h + m.gap
        return _Layout(body, rows, buttons, keyboard, status, bottom, content)

    def render(self, pixels: Pixels) -> None:
        if self.blanked:
            pixels[:] = 0
            self.dirty = False
            return
        m, (width, height), page = self.metrics, self.size, self.page
        layout = self._layout()
        p = Painter(pixels)
        p.fill(Box(0, 0, width, height), BACKGROUND)
        p.fill(Box(0, 0, width, m.header), HEADER)
        p.text(page.title, m.pad, m.header // 2, m.title, TEXT, width * 3 // 4, center=True)
        if self.unlocked:
            label = "admin"
            p.text(label, width - m.pad - text_width(label, m.small), m.header // 2, m.small,
                   MUTED, center=True)
        focused = self.focused()
        p.clip(layout.body)
        for widget, box in layout.rows:
            if box.bottom > layout.body.top and box.top < layout.body.bottom:
                widget.draw(p, m, box, widget is focused)
        p.clip(None)
        if layout.content > layout.body.height:  # a scroll bar says there is more
            bar_h = max(m.row // 2, layout.body.height ** 2 // layout.content)
            span = layout.body.height - bar_h
            top = layout.body.top + span * page.scroll // (layout.content - layout.body.height)
            p.fill(Box(width - m.pad // 2 - m.px(3), top, width - m.pad // 2, top + bar_h),
                   MUTED, m.px(2))
        for i, line in enumerate(layout.status):
            p.text(line, m.pad, layout.status_top + i * line_height(m.small), m.small,
                   page.status_color)
        for widget, box in layout.buttons:
            widget.draw(p, m, box, widget is focused)
        if layout.keyboard is not None:
            self.keyboard.draw(p, m, layout.keyboard)
        self.dirty = False


@dataclass(frozen=True)
class _Layout:
    body: Box
    rows: list[tuple[Widget, Box]]
    buttons: list[tuple[Widget, Box]]
    keyboard: Box | None
    status: list[str]
    status_top: int
    content: int
