"""The admin PIN: it guards every page that changes the device, and the page that sets it."""

from __future__ import annotations

import time
from collections.abc import Callable

from ...config.settings import pin_matches
from ...config.target import ConfigError
from ..app import Page, SetupApp
from ..widgets import Button, Field, Note

# Guesses are slowed down after a few wrong ones: 4 digits are only 10 000 PINs.
FREE_GUESSES = 3
PENALTY_SECONDS = 30.0


class PinThrottle:
    """Wrong guesses, counted for the whole process: closing the page (or setup, which
    the kiosk reopens) does not start the count again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.wrong = 0
        self.blocked_until = 0.0

    def wait(self) -> float:
        """Seconds before the next guess is accepted."""
        return max(0.0, self.blocked_until - self.clock())

    def failed(self) -> None:
        self.wrong += 1
        if self.wrong >= FREE_GUESSES:
            self.blocked_until = self.clock() + PENALTY_SECONDS

    def passed(self) -> None:
        self.wrong, self.blocked_until = 0, 0.0


THROTTLE = PinThrottle()


def guarded(app: SetupApp, action: Callable[[], None]) -> None:
    """Do ``action`` if no admin PIN is set or it was entered in this visit; else ask.
    A configuration that cannot be read counts as locked: its PIN is unknown."""
    if app.unlocked:
        action()
        return
    try:
        pin = app.store.load().system.admin_pin
    except ConfigError as exc:
        app.page.say(f"{exc}: fix it before changing settings", error=True)
        return
    if pin is None:
        action()
    else:
        app.open(PinPage(app, action))


class PinPage(Page):
    title = "Admin PIN"

    def __init__(self, app: SetupApp, then: Callable[[], None]) -> None:
        super().__init__(app)
        self.then = then
        self.pin = Field("PIN", secret=True, on_enter=self.unlock)
        self.widgets = [Note("This page is locked by the administrator."), self.pin]
        self.buttons = [Button("Unlock", self.unlock, "primary"), Button("Cancel", self.back)]

    def unlock(self) -> None:
        stored = self.app.config().system.admin_pin
        if stored is None:
            self._open()
            return
        wait = THROTTLE.wait()
        if wait > 0:
            self.say(f"Too many wrong PINs: wait {wait:.0f} s", error=True)
            return
        if pin_matches(stored, self.pin.text):
            THROTTLE.passed()
            self._open()
            return
        THROTTLE.failed()
        self.pin.text, self.pin.caret = "", 0
        self.say("Wrong PIN", error=True)

    def _open(self) -> None:
        self.app.unlocked = True
        self.app.stack.pop()
        self.then()


class AdminPinPage(Page):
    title = "Admin PIN"

    def __init__(self, app: SetupApp) -> None:
        super().__init__(app)
        system = app.config().system
        self.pin = Field("New admin PIN", secret=True, hint="4 to 12 digits")
        self.again = Field("The PIN again", secret=True, on_enter=self.set_pin)
        self.widgets = [
            Note("An admin PIN guards every page but the choice of connection."
                 if system.admin_pin is None else
                 "An admin PIN is set: every page but the choice of connection needs it."),
            self.pin, self.again,
        ]
        self.buttons = [Button("Set PIN", self.set_pin, "primary")]
        if system.admin_pin is not None:
            self.buttons.append(Button("Remove PIN", self.remove_pin, "danger"))
        self.buttons.append(Button("Back", self.back))

    def set_pin(self) -> None:
        if not self.pin.text:
            self.say("Type a PIN of 4 to 12 digits", error=True)
        elif self.pin.text != self.again.text:
            self.say("The two PINs differ: type them again", error=True)
            for field in (self.pin, self.again):
                field.text, field.caret = "", 0
        else:
            self._save(self.pin.text, "The admin PIN is set")

    def remove_pin(self) -> None:
        self._save("", "The admin PIN is removed: setup is open to everyone")

    def _save(self, pin: str, done: str) -> None:
        try:
            self.app.store.set("system.admin-pin", pin)
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.leave(done)
