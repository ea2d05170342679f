"""What the kiosk shows between connections: why it is not connected, and when it tries
again, with a way into setup."""

from __future__ import annotations

import math

from ..app import CONNECT, Page, SetupApp
from ..paint import ERROR, TEXT
from ..widgets import Button, Note, Widget
from .home import HomePage


class ReconnectPage(Page):
    title = "Not connected"

    def __init__(self, app: SetupApp, server: str, problem: str, retry_in: float,
                 setup: bool = True) -> None:
        super().__init__(app)
        self.retry_in = retry_in
        self.retry_at: float | None = None  # set on the first tick: the clock is the loop's
        self.countdown = Note("", TEXT)
        self.widgets: list[Widget] = [Note(f"Cannot connect to {server}", TEXT),
                                      Note(problem, ERROR), self.countdown]
        self.buttons = [Button("Try now", lambda: app.finish(CONNECT), "primary")]
        if setup:  # not where the administrator locked setup away
            self.buttons.append(Button("Setup", lambda: app.open(HomePage(app))))
        self._shown_seconds = -1

    def back(self) -> None:
        pass  # the kiosk's first page: nothing underneath

    def tick(self, now: float) -> float | None:
        if self.retry_at is None:
            self.retry_at = now + self.retry_in
        if now >= self.retry_at:
            self.app.finish(CONNECT)
            return None
        seconds = math.ceil(self.retry_at - now)
        if seconds != self._shown_seconds:
            self._shown_seconds = seconds
            self.countdown.text = f"Trying again in {seconds} s"
            self.app.dirty = True
        return self.retry_at - (seconds - 1)
