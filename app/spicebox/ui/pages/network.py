"""Network: the wired and Wi-Fi devices NetworkManager manages, DHCP or a static address
for a wired one, and joining a Wi-Fi network."""

from __future__ import annotations

import functools

from ...config.settings import check_psk
from ...net.interfaces import interfaces
from ...system.bus import SystemBus, on_system_bus
from ...system.network import (
    WIFI,
    Device,
    Network,
    NetworkManager,
    StaticIpv4,
)
from ..app import Page, SetupApp
from ..paint import ERROR
from ..widgets import Button, Choice, Field, Note, Widget

DHCP, STATIC = "dhcp", "static"
_SECURITY = {"open": "open", "wpa-psk": "WPA2", "sae": "WPA3", "wep": "WEP (not supported)",
             "enterprise": "802.1X (not supported)"}


async def _devices(bus: SystemBus) -> list[Device]:
    return await NetworkManager(bus).devices()


class NetworkPage(Page):
    title = "Network"

    def __init__(self, app: SetupApp) -> None:
        super().__init__(app)
        self.buttons = [Button("Refresh", self.refresh), Button("Back", self.back)]
        self.refresh()

    def shown(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.widgets = [Note("Asking NetworkManager…")]
        self.start(functools.partial(on_system_bus, _devices), self._listed)
        self.app.dirty = True

    def _listed(self, result: object) -> None:
        if not isinstance(result, list):
            self.widgets = [Note(f"{result}", ERROR)]
            return
        addresses = {nic.name: ", ".join(nic.addresses) for nic in interfaces()}
        widgets: list[Widget] = []
        for device in result:
            shown = addresses.get(device.interface) or "no address"
            widgets.append(Button(device.interface, functools.partial(self._open, device),
                                  detail=f"{device.kind_name}, {device.state}, {shown}"))
        self.widgets = widgets or [Note("NetworkManager manages no wired or Wi-Fi device "
                                        "here.", ERROR)]

    def _open(self, device: Device) -> None:
        page = WifiPage if device.kind == WIFI else WiredPage
        self.app.open(page(self.app, device))


class WiredPage(Page):
    def __init__(self, app: SetupApp, device: Device) -> None:
        super().__init__(app)
        self.device = device
        self.title = f"Wired: {device.interface}"
        self.mode = Choice("Addressing", [(DHCP, "automatic (DHCP)"), (STATIC, "fixed")], DHCP,
                           lambda _: self._show())
        self.address = Field("Address", hint="e.g. 192.168.1.20/24")
        self.gateway = Field("Gateway", hint="e.g. 192.168.1.1")
        self.dns = Field("DNS servers", hint="e.g. 192.168.1.1 9.9.9.9")
        self.buttons = [Button("Apply", self.apply, "primary"), Button("Back", self.back)]
        self._show()
        self.say("Reading the current settings…")

        async def current(bus: SystemBus) -> StaticIpv4 | None:
            return await NetworkManager(bus).wired_ipv4(device)
        self.start(functools.partial(on_system_bus, current), self._current)

    def _current(self, result: object) -> None:
        """Start from what the device has, so Apply changes only what was edited."""
        if isinstance(result, Exception):
            self.say(f"{result}", error=True)
            return
        self.say("")
        if isinstance(result, StaticIpv4):
            self.mode.index = 1
            self.address.text = str(result.address)
            self.gateway.text = str(result.gateway or "")
            self.dns.text = " ".join(str(a) for a in result.dns)
            for field in (self.address, self.gateway, self.dns):
                field.caret = len(field.text)
        self._show()

    def _show(self) -> None:
        static = self.mode.value == STATIC
        self.widgets = [self.mode, *((self.address, self.gateway, self.dns) if static else ())]
        self.app.dirty = True

    def apply(self) -> None:
        static = None
        if self.mode.value == STATIC:
            try:
                static = StaticIpv4.parse(self.address.text, self.gateway.text, self.dns.text)
            except ValueError as exc:
                self.say(str(exc), error=True)
                return
        device = self.device
        self.say(f"Applying to {device.interface}…")

        async def configure(bus: SystemBus) -> None:
            await NetworkManager(bus).configure_wired(device, static)
        self.start(functools.partial(on_system_bus, configure), self._applied)

    def _applied(self, result: object) -> None:
        if isinstance(result, Exception):
            self.say(str(result), error=True)
            return
        way = "DHCP" if self.mode.value == DHCP else f"{self.address.text.strip()}"
        self.leave(f"{self.device.interface}: {way} applied")


class WifiPage(Page):
    def __init__(self, app: SetupApp, device: Device) -> None:
        super().__init__(app)
        self.device = device
        self.title = f"Wi-Fi: {device.interface}"
        self.buttons = [Button("Scan again", self.scan), Button("Back", self.back)]
        self.scan()

    def scan(self) -> None:
        self.widgets = [Note("Looking for networks…")]
        device = self.device

        async def networks(bus: SystemBus) -> list[Network]:
            return await NetworkManager(bus).networks(device)
        self.start(functools.partial(on_system_bus, networks), self._scanned)
        self.app.dirty = True

    def _scanned(self, result: object) -> None:
        if not isinstance(result, list):
            self.widgets = [Note(f"{result}", ERROR)]
            return
        self.widgets = [Button(n.name, functools.partial(self._pick, n),
                               detail=f"{n.strength}%, {_SECURITY[n.security]}")
                        for n in result] or [Note("No networks in reach.", ERROR)]

    def _pick(self, network: Network) -> None:
        self.app.open(JoinPage(self.app, self.device, network))


class JoinPage(Page):
    def __init__(self, app: SetupApp, device: Device, network: Network) -> None:
        super().__init__(app)
        self.device, self.network = device, network
        self.title = f"Join {network.name}"
        self.password = Field("Password", secret=True, on_enter=self.join)
        refused = network.joinable
        if refused is not None:
            self.widgets: list[Widget] = [Note(refused, ERROR)]
        elif network.secured:
            self.widgets = [self.password]
        else:
            self.widgets = [Note("An open network: anyone nearby can read what is not "
                                 "encrypted by the connection itself (SPICE's TLS is).")]
        self.buttons = [Button("Join", self.join, "primary"), Button("Back", self.back)]

    def join(self) -> None:
        device, network, password = self.device, self.network, self.password.text
        try:
            if network.joinable is not None:
                raise ValueError(network.joinable)
            if network.secured:
                check_psk(password)
        except ValueError as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"Joining {network.name}…")

        async def join(bus: SystemBus) -> None:
            await NetworkManager(bus).join(device, network, password)
        self.start(functools.partial(on_system_bus, join), self._joined)

    def _joined(self, result: object) -> None:
        if isinstance(result, Exception):
            self.say(str(result), error=True)
            return
        self.leave(f"Joined {self.network.name}")
