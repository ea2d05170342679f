"""Wired and Wi-Fi networking through NetworkManager's D-Bus API.

The setup UI lists the devices, sets a wired device to DHCP or a static address, scans
for Wi-Fi networks and joins one. Every change is a NetworkManager connection profile
that NetworkManager itself keeps and re-applies at boot; this module keeps no state.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import uuid
from dataclasses import dataclass

from dbus_fast import Variant

from .bus import ServiceError, SystemBus

NM = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
SETTINGS_PATH = "/org/freedesktop/NetworkManager/Settings"
DEVICE = f"{NM}.Device"
WIRELESS = f"{NM}.Device.Wireless"
ACCESS_POINT = f"{NM}.AccessPoint"
ETHERNET, WIFI = 1, 2  # NMDeviceType
# NMDeviceState, in words.
_STATES = {0: "unknown", 10: "unmanaged", 20: "unavailable", 30: "disconnected",
           40: "connecting", 50: "connecting", 60: "needs a password", 70: "getting an address",
           80: "connecting", 90: "connecting", 100: "connected", 110: "disconnecting",
           120: "failed"}
# Connection profiles this box makes have UUIDs derived from the interface (or the
# network's name), so setting the same thing again replaces the profile instead of piling
# up new ones.
_NAMESPACE = uuid.UUID("6f1c9a52-3c1e-4d7e-9a55-2b8f7d1e0c11")


@dataclass(frozen=True)
class Device:
    path: str
    interface: str
    kind: int      # ETHERNET, WIFI, or another NMDeviceType
    state: str

    @property
    def kind_name(self) -> str:
        return {ETHERNET: "Ethernet", WIFI: "Wi-Fi"}.get(self.kind, "other")


@dataclass(frozen=True)
class Network:
    path: str      # the access point NetworkManager saw it through
    ssid: str
    strength: int  # percent
    secured: bool


@dataclass(frozen=True)
class StaticIpv4:
    address: ipaddress.IPv4Interface  # address and prefix
    gateway: ipaddress.IPv4Address | None
    dns: tuple[ipaddress.IPv4Address, ...]

    @classmethod
    def parse(cls, address: str, gateway: str, dns: str) -> StaticIpv4:
        """From what a person types; ValueError says which part is wrong."""
        try:
            interface = ipaddress.IPv4Interface(address.strip())
        except ValueError:
            raise ValueError(f"address {address!r} is not an IPv4 address with its prefix, "
                             f"e.g. 192.168.1.20/24") from None
        if "/" not in address:
            raise ValueError(f"address {address!r} needs its prefix, e.g. /24")
        try:
            gw = ipaddress.IPv4Address(gateway.strip()) if gateway.strip() else None
            servers = tuple(ipaddress.IPv4Address(s.strip())
                            for s in dns.replace(",", " ").split())
        except ValueError as exc:
            raise ValueError(f"{exc}: gateway and DNS servers are IPv4 addresses") from None
        if gw is not None and gw not in interface.network:
            raise ValueError(f"gateway {gw} is not in {interface.network}")
        return cls(interface, gw, servers)


class NetworkManager:
    def __init__(self, bus: SystemBus) -> None:
        self.bus = bus

    async def devices(self) -> list[Device]:
        """Wired and Wi-Fi devices (loopback, bridges and the like left out)."""
        [paths] = await self.bus.call(NM, NM_PATH, NM, "GetDevices")
        found = []
        for path in paths:
            props = await self.bus.properties(NM, path, DEVICE)
            kind = int(props.get("DeviceType", 0))
            if kind in (ETHERNET, WIFI):
                found.append(Device(path, str(props.get("Interface", "?")), kind,
                                    _STATES.get(int(props.get("State", 0)), "unknown")))
        return sorted(found, key=lambda d: (d.kind, d.interface))

    async def networks(self, device: Device) -> list[Network]:
        """Wi-Fi networks in reach, strongest first, one entry per name."""
        # NetworkManager scans by itself every so often; this asks for a fresh one for next
        # time (refused while one runs: the last results are still good).
        with contextlib.suppress(ServiceError):
            await self.bus.call(NM, device.path, WIRELESS, "RequestScan", "a{sv}", [{}])
        [paths] = await self.bus.call(NM, device.path, WIRELESS, "GetAllAccessPoints")
        best: dict[str, Network] = {}
        for path in paths:
            props = await self.bus.properties(NM, path, ACCESS_POINT)
            ssid = bytes(props.get("Ssid", b"")).decode(errors="replace")
            if not ssid:
                continue  # a hidden network
            secured = bool(props.get("Flags", 0) or props.get("WpaFlags", 0)
                           or props.get("RsnFlags", 0))
            network = Network(path, ssid, int(props.get("Strength", 0)), secured)
            if ssid not in best or network.strength > best[ssid].strength:
                best[ssid] = network
        return sorted(best.values(), key=lambda n: -n.strength)

    async def join(self, device: Device, network: Network, password: str) -> None:
        """Join a Wi-Fi network (WPA-PSK when it is secured); NetworkManager keeps the
        profile and joins again at boot."""
        if network.secured and not 8 <= len(password) <= 63:
            raise ValueError("a WPA password has 8 to 63 characters")
        settings: dict[str, dict[str, Variant]] = {
            "connection": _connection(network.ssid, "802-11-wireless", f"wifi-{network.ssid}"),
            "802-11-wireless": {"ssid": Variant("ay", network.ssid.encode()),
                                "mode": Variant("s", "infrastructure")},
        }
        if network.secured:
            settings["802-11-wireless-security"] = {"key-mgmt": Variant("s", "wpa-psk"),
                                                    "psk": Variant("s", password)}
        await self.bus.call(NM, NM_PATH, NM, "AddAndActivateConnection", "a{sa{sv}}oo",
                            [settings, device.path, network.path])

    async def configure_wired(self, device: Device, static: StaticIpv4 | None) -> None:
        """DHCP (None) or a static IPv4 address for a wired device, applied now."""
        ipv4: dict[str, Variant] = {"method": Variant("s", "auto")}
        if static is not None:
            ipv4 = {
                "method": Variant("s", "manual"),
                "address-data": Variant("aa{sv}", [{
                    "address": Variant("s", str(static.address.ip)),
                    "prefix": Variant("u", static.address.network.prefixlen)}]),
                # The legacy form every NetworkManager reads: addresses as uint32 in
                # network byte order.
                "dns": Variant("au", [_u32(a) for a in static.dns]),
            }
            if static.gateway is not None:
                ipv4["gateway"] = Variant("s", str(static.gateway))
        settings = {"connection": _connection(f"Spicebox {device.interface}",
                                              "802-3-ethernet", f"wired-{device.interface}",
                                              device.interface),
                    "ipv4": ipv4, "ipv6": {"method": Variant("s", "auto")}}
        uid = settings["connection"]["uuid"].value
        try:
            [path] = await self.bus.call(NM, SETTINGS_PATH, f"{NM}.Settings",
                                         "GetConnectionByUuid", "s", [uid])
        except ServiceError:
            [path] = await self.bus.call(NM, SETTINGS_PATH, f"{NM}.Settings",
                                         "AddConnection", "a{sa{sv}}", [settings])
        else:
            await self.bus.call(NM, path, f"{NM}.Settings.Connection", "Update",
                                "a{sa{sv}}", [settings])
        await self.bus.call(NM, NM_PATH, NM, "ActivateConnection", "ooo",
                            [path, device.path, "/"])


def _connection(name: str, kind: str, key: str, interface: str | None = None
                ) -> dict[str, Variant]:
    values = {"id": Variant("s", name), "type": Variant("s", kind),
              "uuid": Variant("s", str(uuid.uuid5(_NAMESPACE, key))),
              "autoconnect": Variant("b", True)}
    if interface is not None:
        values["interface-name"] = Variant("s", interface)
    return values


def _u32(address: ipaddress.IPv4Address) -> int:
    value: int = struct.unpack("=I", socket.inet_aton(str(address)))[0]
    return value
