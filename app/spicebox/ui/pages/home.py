"""The first page: which server to connect to, and the way to every other page."""

from __future__ import annotations

import importlib

from ...config.target import ConfigError
from ..app import CONNECT, Page, SetupApp
from ..widgets import Button, Choice, Note, Widget
from .lock import guarded
from .settings import SectionPage


def page_class(module: str, name: str) -> type[Page]:
    """A page, imported when it is first opened. A kiosk imports this page for its
    session's setup hotkey; the pages behind it bring cryptography (System: the
    provisioning key), dbus-fast (Network, System) and more, 13 MiB that the session
    would otherwise carry all day."""
    found: type[Page] = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    return found


class HomePage(Page):
    title = "Spicebox setup"

    def __init__(self, app: SetupApp) -> None:
        super().__init__(app)
        self.shown()

    def shown(self) -> None:
        app = self.app
        config = app.config()
        widgets: list[Widget] = []
        self.choice: Choice | None = None
        if config.profiles:
            options = [(name, f"{p.title or name}  ({p.describe()})")
                       for name, p in config.profiles.items()]
            self.choice = Choice("Connect to", options,
                                 config.default_profile or options[0][0], self._pick)
            widgets.append(self.choice)
        else:
            widgets.append(Note("No connection is set up yet: add a profile, or import a "
                                ".vv file from a USB stick, under Connection profiles."))

        def page(label: str, make: tuple[str, str] | None = None, section: str = "",
                 detail: str = "") -> Button:
            def open_page() -> None:
                guarded(app, lambda: app.open(
                    SectionPage(app, section, label) if make is None
                    else page_class(*make)(app)))
            return Button(label, open_page, detail=detail)
        widgets += [
            page("Connection profiles", ("profiles", "ProfilesPage"),
                 detail=f"{len(config.profiles)} set up"),
            page("Network", ("network", "NetworkPage"), detail="Ethernet, Wi-Fi"),
            page("Display", section="display", detail="screen, resolution, compression"),
            page("Keyboard and input", section="input", detail="layout, mice, touch"),
            page("Sound", ("audio", "AudioPage"), detail="speakers, microphone"),
            page("USB devices", ("usb", "UsbPage"), detail="what goes to the desktop"),
            page("Hotkeys", section="hotkeys", detail="setup, Ctrl+Alt+Del, fullscreen"),
            page("System", ("system", "SystemPage"), detail="name, time, PIN, restart"),
            Button("Diagnostics", lambda: app.open(page_class("diagnostics",
                                                              "DiagnosticsPage")(app)),
                   detail="addresses, server, recent problems"),
        ]
        self.widgets = widgets
        self.buttons = ([Button("Connect", self.connect, "primary")] if app.kiosk
                        else [Button("Close", self.back)])
        app.dirty = True

    def _pick(self, name: str) -> None:
        try:  # no PIN needed: choosing among the administrator's profiles is the user's
            self.app.store.set("default-profile", name)
        except ConfigError as exc:
            self.say(str(exc), error=True)

    def connect(self) -> None:
        if self.choice is None:
            self.say("Set up a connection profile first", error=True)
            return
        if self.app.config().default_profile != self.choice.value:
            self._pick(self.choice.value)  # what is shown is what connects
        if self.app.config().default_profile == self.choice.value:
            self.app.finish(CONNECT)
