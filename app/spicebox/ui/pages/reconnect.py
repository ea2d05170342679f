"""What the kiosk shows between connections: why it is not connected, and when it tries
again (at the end of its countdown, or as soon as the network comes back), with a way
into setup."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

from ...net.links import network_back
from ..app import CONNECT, Page, SetupApp
from ..paint import ERROR, TEXT
from ..widgets import Button, Note, Widget
from .home import HomePage


class ReconnectPage(Page):
    title = "Not connected"

    def __init__(self, app: SetupApp, server: str, problem: str, retry_in: float,
                 setup: bool = True,
                 network: Callable[[], Awaitable[None]] = network_back) -> None:
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
        self.start(network, self._network_back)

    def _network_back(self, result: object) -> None:
        if isinstance(result, Exception):  # no rtnetlink here: the countdown goes on
            logging.getLogger(__name__).debug("not watching the network: %s", result)
        elif self.app.page is self:  # not while somebody is in setup
            self.app.finish(CONNECT)

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
