"""System: this box's name, time zone and clock, its provisioning server and the key it
trusts, its software version, the admin PIN, and restart or power off."""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ... import __version__
from ...config.settings import check_timezone
from ...config.target import ConfigError
from ...provisioning.agent import read_state, state_path
from ...provisioning.site import fingerprint
from ...system import services
from ...system.bus import SystemBus, on_system_bus
from ..app import Page, SetupApp
from ..paint import TEXT
from ..widgets import Button, Choice, Field, Note
from .lock import AdminPinPage

OS_RELEASE = Path("/etc/os-release")


def os_name() -> str:
    try:
        for line in OS_RELEASE.read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "PRETTY_NAME":
                return value.strip('"')
    except OSError:
        pass
    return platform.system()


class SystemPage(Page):
    title = "System"

    def __init__(self, app: SetupApp) -> None:
        super().__init__(app)
        self.hostname = Field("Host name", hint="asking systemd-hostnamed…")
        self.timezone = Field("Time zone", hint="e.g. Europe/Berlin")
        self.ntp = Choice("Clock", [("yes", "from the network (NTP)"), ("no", "as it is")],
                          "yes")
        self.provisioning = Field("Provisioning server", app.config().system.provisioning_url
                                  or "", hint="https://... (optional)")
        self.before: dict[str, str] = {}
        said, held = self._trust()
        self.trust = Note(said, TEXT)
        forget = [Button("Forget the provisioning key", self._forget)] if held else []
        self.widgets = [
            Note(f"Spicebox {__version__} on {os_name()}", TEXT),
            self.hostname, self.timezone, self.ntp, self.provisioning, self.trust, *forget,
            Button("Admin PIN…", lambda: app.open(AdminPinPage(app))),
            Button("Restart", lambda: self._confirm("Restart", services.reboot)),
            Button("Power off", lambda: self._confirm("Power off", services.power_off)),
        ]
        self.buttons = [Button("Save", self.save, "primary"), Button("Back", self.back)]
        # Asked separately: one service missing must not hide what the other says.
        self.start(functools.partial(on_system_bus, services.hostname), self._named)
        self.start(functools.partial(on_system_bus, services.clock), self._timed)

    def _trust(self) -> tuple[str, bool]:
        """Trust on first use, made visible: the fingerprint to compare with the one
        spicebox-admin keygen printed; and whether there is anything to forget (an
        unreadable record is mended by forgetting it)."""
        try:
            key = read_state(state_path(self.app.store)).get("trusted")
        except ConfigError as exc:
            return str(exc), True
        if not isinstance(key, str):
            return "No provisioning key trusted yet: the first site's will be", False
        return f"Trusted provisioning key: {fingerprint(key)}", True

    def _forget(self) -> None:
        """To move the box to another site: the next one's key is trusted afresh."""
        try:
            state_path(self.app.store).unlink(missing_ok=True)
        except OSError as exc:
            self.say(f"cannot forget the key: {exc.strerror}", error=True)
            return
        self.trust.text = self._trust()[0]
        self.say("Forgotten: the next provisioning site's key will be trusted")

    def _named(self, result: object) -> None:
        if isinstance(result, Exception):
            self.say(str(result), error=True)
            return
        name = str(result)
        self.hostname.text, self.hostname.caret = name, len(name)
        self.before["hostname"] = name

    def _timed(self, result: object) -> None:
        if isinstance(result, Exception):
            self.say(str(result), error=True)
            return
        assert isinstance(result, services.Clock)
        self.timezone.text = result.timezone
        self.timezone.caret = len(result.timezone)
        self.ntp.index = 0 if result.ntp else 1
        self.before.update(timezone=result.timezone, ntp=self.ntp.value)

    def save(self) -> None:
        try:
            self.app.store.set("system.provisioning-url", self.provisioning.text.strip())
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        name, zone, ntp = (self.hostname.text.strip(), self.timezone.text.strip(),
                           self.ntp.value)
        # Only what a service told us can have been changed (else it is not there).
        rename = "hostname" in self.before and name != self.before["hostname"]
        retime = "timezone" in self.before and (zone, ntp) != (self.before["timezone"],
                                                                self.before["ntp"])
        try:
            if rename:
                services.check_hostname(name)
            if retime:
                check_timezone(zone)
        except ValueError as exc:
            self.say(str(exc), error=True)
            return
        if not (rename or retime):
            self.say("Saved")
            return

        async def apply(bus: SystemBus) -> None:
            if rename:
                await services.set_hostname(bus, name)
            if retime:
                await services.set_clock(bus, zone, ntp == "yes")
        self.say("Saving…")
        self.start(functools.partial(on_system_bus, apply), self._saved)

    def _saved(self, result: object) -> None:
        if isinstance(result, Exception):
            self.say(str(result), error=True)
            return
        if "hostname" in self.before:
            self.before["hostname"] = self.hostname.text.strip()
        if "timezone" in self.before:
            self.before.update(timezone=self.timezone.text.strip(), ntp=self.ntp.value)
        self.say("Saved")

    def _confirm(self, what: str,
                 action: Callable[[SystemBus], Coroutine[Any, Any, None]]) -> None:
        self.app.open(ConfirmPage(self.app, what, action))


class ConfirmPage(Page):
    def __init__(self, app: SetupApp, what: str,
                 action: Callable[[SystemBus], Coroutine[Any, Any, None]]) -> None:
        super().__init__(app)
        self.title, self.action = f"{what}?", action
        self.widgets = [Note(f"{what} this box now? The session, if any, ends.", TEXT)]
        self.buttons = [Button(what, self.go, "danger"), Button("Cancel", self.back)]

    def go(self) -> None:
        self.say("Asking systemd-logind…")
        self.start(functools.partial(on_system_bus, self.action), self._done)

    def _done(self, result: object) -> None:
        if isinstance(result, Exception):
            self.say(str(result), error=True)
        else:
            self.say("Done: the box goes down now")
