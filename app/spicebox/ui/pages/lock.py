"""The admin PIN: it guards every page that changes the device, and the page that sets it."""

from __future__ import annotations

from collections.abc import Callable

from ...config.settings import pin_matches
from ...config.target import ConfigError
from ..app import Page, SetupApp
from ..widgets import Button, Field, Note

# Guesses are slowed down after a few wrong ones: 4 digits are only 10 000 PINs.
FREE_GUESSES = 3
PENALTY_SECONDS = 30.0


def guarded(app: SetupApp, action: Callable[[], None]) -> None:
    """Do ``action`` if no admin PIN is set or it was entered in this visit; else ask."""
    if app.unlocked or app.config().system.admin_pin is None:
        action()
    else:
        app.open(PinPage(app, action))


class PinPage(Page):
    title = "Admin PIN"
    wrong = 0  # per process, not per page: closing the page does not reset it
    blocked_until = 0.0

    def __init__(self, app: SetupApp, then: Callable[[], None]) -> None:
        super().__init__(app)
        self.then = then
        self.pin = Field("PIN", secret=True, on_enter=self.unlock)
        self.widgets = [Note("This page is locked by the administrator."), self.pin]
        self.buttons = [Button("Unlock", self.unlock, "primary"), Button("Cancel", self.back)]
        self.focus = 0
        self.now = 0.0

    def tick(self, now: float) -> float | None:
        self.now = now
        return None

    def unlock(self) -> None:
        stored = self.app.config().system.admin_pin
        if stored is None:
            self._open()
            return
        if self.now < PinPage.blocked_until:
            self.say(f"Too many wrong PINs: wait {PinPage.blocked_until - self.now:.0f} s",
                     error=True)
            return
        if pin_matches(stored, self.pin.text):
            PinPage.wrong = 0
            self._open()
            return
        PinPage.wrong += 1
        self.pin.text, self.pin.caret = "", 0
        if PinPage.wrong >= FREE_GUESSES:
            PinPage.blocked_until = self.now + PENALTY_SECONDS
        self.say("Wrong PIN", error=True)

    def _open(self) -> None:
        self.app.unlocked = True
        self.app.stack.pop()
        self.then()


class SystemPage(Page):
    title = "System"

    def __init__(self, app: SetupApp) -> None:
        super().__init__(app)
        system = app.config().system
        self.pin = Field("New admin PIN", secret=True, hint="4 to 12 digits")
        self.widgets = [
            Note("An admin PIN guards every page but the choice of connection."
                 if system.admin_pin is None else
                 "An admin PIN is set: every page but the choice of connection needs it."),
            self.pin,
        ]
        self.buttons = [Button("Set PIN", self.set_pin, "primary")]
        if system.admin_pin is not None:
            self.buttons.append(Button("Remove PIN", self.remove_pin, "danger"))
        self.buttons.append(Button("Back", self.back))

    def set_pin(self) -> None:
        self._save(self.pin.text, "The admin PIN is set")

    def remove_pin(self) -> None:
        self._save("", "The admin PIN is removed: setup is open to everyone")

    def _save(self, pin: str, done: str) -> None:
        try:
            self.app.store.set("system.admin-pin", pin)
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.app.back()
        self.app.page.say(done)
