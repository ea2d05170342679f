"""USB: the devices plugged into the box, and for each whether it goes to the desktop by
itself or stays with the box. A choice here becomes a rule for that device (vendor and
product) at the head of the auto-redirect filter; the rest of the filter stays as the
administrator wrote it."""

from __future__ import annotations

from ...config.target import ConfigError
from ...usb.filter import ANY, Rule, UsbDevice, auto_redirects, decide, parse, to_string
from ..app import Page, SetupApp
from ..widgets import Button, Choice, Note, Widget
from .settings import SectionPage

DESKTOP, BOX = "desktop", "box"
_OPTIONS = [(DESKTOP, "Goes to the desktop"), (BOX, "Stays with this box")]


def _is_device_rule(rule: Rule) -> bool:
    return (rule.device_class, rule.device_version_bcd) == (ANY, ANY) and \
        ANY not in (rule.vendor_id, rule.product_id)


class UsbPage(Page):
    title = "USB devices"

    def __init__(self, app: SetupApp,
                 devices: list[tuple[str, UsbDevice]] | None = None) -> None:
        """``devices``: (name, description) of the devices to show (default: those
        plugged in now)."""
        super().__init__(app)
        self.devices = _plugged() if devices is None else devices
        self.buttons = [Button("Save", self.save, "primary"),
                        Button("Filters", lambda: app.open(
                            SectionPage(app, "usb", "USB filters"))),
                        Button("Back", self.back)]
        self.shown()

    def shown(self) -> None:
        """Made afresh when the filters page closes: its rules decide what shows here."""
        devices, config = self.devices, self.app.config()
        redirect = parse(config.usb.redirect_filter)
        self.auto = parse(config.usb.auto_redirect_filter)
        self.choices: dict[tuple[int, int], Choice] = {}
        widgets: list[Widget] = []
        for name, device in devices:
            key = (device.vendor_id, device.product_id)
            label = f"{name} ({device.vendor_id:04x}:{device.product_id:04x})"
            allowed, why = decide(device, redirect)
            if device.is_keyboard_or_mouse:
                widgets.append(Note(f"{label}: a keyboard or mouse, stays with this box"))
            elif not allowed:
                widgets.append(Note(f"{label}: stays with this box ({why})"))
            elif key not in self.choices:
                self.choices[key] = Choice(label, _OPTIONS,
                                           DESKTOP if auto_redirects(device, self.auto)
                                           else BOX)
                widgets.append(self.choices[key])
        if not devices:
            widgets.append(Note("No USB devices are plugged in. Plug one in and open this "
                                "page again."))
        widgets.append(Note("A device that goes to the desktop is redirected when it is "
                            "plugged in during a session, and when a session starts.",
                            small=True))
        self.before = {key: choice.value for key, choice in self.choices.items()}
        self.widgets = widgets
        self.app.dirty = True

    def save(self) -> None:
        changed = {key: c.value for key, c in self.choices.items() if c.value != self.before[key]}
        if not changed:
            self.say("Nothing changed")
            return
        mine = [Rule(ANY, vendor, product, ANY, value == DESKTOP)
                for (vendor, product), value in changed.items()]
        kept = [rule for rule in self.auto if not (
            _is_device_rule(rule) and (rule.vendor_id, rule.product_id) in changed)]
        try:
            self.app.store.set("usb.auto-redirect-filter", to_string((*mine, *kept)))
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.auto = (*mine, *kept)
        self.before.update(changed)
        self.app.settings_changed()
        self.say("Saved: the next session uses it")


def _plugged() -> list[tuple[str, UsbDevice]]:
    from ...usb.device import devices  # noqa: PLC0415 - libusb only on this page
    try:
        return [(device.product() or "USB device", device.describe())
                for device in devices()]
    except OSError:
        return []
