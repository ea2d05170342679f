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

from ..config.settings import check_psk
from .bus import ServiceError, SystemBus
from .bus import plain as _plain

NM = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
SETTINGS_PATH = "/org/freedesktop/NetworkManager/Settings"
DEVICE = f"{NM}.Device"
WIRELESS = f"{NM}.Device.Wireless"
ACCESS_POINT = f"{NM}.AccessPoint"
ACTIVE = f"{NM}.Connection.Active"
DHCP4 = f"{NM}.DHCP4Config"
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


# What a network asks for, from its access point's flags (NM80211ApFlags and
# NM80211ApSecurityFlags): the key management to join it with, or why it cannot be.
OPEN, WPA_PSK, SAE, WEP, ENTERPRISE = "open", "wpa-psk", "sae", "wep", "enterprise"
_AP_PRIVACY = 0x1
_SEC_PSK, _SEC_802_1X, _SEC_SAE = 0x100, 0x200, 0x400


@dataclass(frozen=True)
class Network:
    path: str      # the access point NetworkManager saw it through
    ssid: bytes    # as broadcast: not always UTF-8, and joined by these very bytes
    strength: int  # percent
    security: str  # OPEN, WPA_PSK, SAE, WEP or ENTERPRISE

    @property
    def name(self) -> str:
        return self.ssid.decode(errors="replace")

    @property
    def secured(self) -> bool:
        return self.security != OPEN

    @property
    def joinable(self) -> str | None:
        """Why this box cannot join it, or None."""
        if self.security == WEP:
            return "WEP is broken encryption and not supported: use WPA2 on the network"
        if self.security == ENTERPRISE:
            return "802.1X (enterprise) networks are not supported yet"
        return None


def _security(flags: int, wpa: int, rsn: int) -> str:
    both = wpa | rsn
    if both & _SEC_802_1X:
        return ENTERPRISE
    if both & _SEC_PSK:
        return WPA_PSK
    if rsn & _SEC_SAE:
        return SAE  # WPA3 only
    return WEP if flags & _AP_PRIVACY else OPEN


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

    async def dhcp_options(self) -> list[dict[str, str]]:
        """The DHCP (IPv4) options each active connection got, as NetworkManager names
        them ("domain_name", "private_224" for a site-specific option, ...)."""
        manager = await self.bus.properties(NM, NM_PATH, NM)
        found = []
        for active in manager.get("ActiveConnections", []):
            config = (await self.bus.properties(NM, active, ACTIVE)).get("Dhcp4Config", "/")
            if config and config != "/":
                options = (await self.bus.properties(NM, config, DHCP4)).get("Options", {})
                found.append({str(k): str(_plain(v)) for k, v in options.items()})
        return found

    async def networks(self, device: Device) -> list[Network]:
        """Wi-Fi networks in reach, strongest first, one entry per name."""
        # NetworkManager scans by itself every so often; this asks for a fresh one for next
        # time (refused while one runs: the last results are still good).
        with contextlib.suppress(ServiceError):
            await self.bus.call(NM, device.path, WIRELESS, "RequestScan", "a{sv}", [{}])
        [paths] = await self.bus.call(NM, device.path, WIRELESS, "GetAllAccessPoints")
        best: dict[bytes, Network] = {}
        for path in paths:
            props = await self.bus.properties(NM, path, ACCESS_POINT)
            ssid = bytes(props.get("Ssid", b""))
            if not ssid:
                continue  # a hidden network
            security = _security(int(props.get("Flags", 0)), int(props.get("WpaFlags", 0)),
                                 int(props.get("RsnFlags", 0)))
            network = Network(path, ssid, int(props.get("Strength", 0)), security)
            if ssid not in best or network.strength > best[ssid].strength:
                best[ssid] = network
        return sorted(best.values(), key=lambda n: -n.strength)

    async def join(self, device: Device, network: Network, password: str) -> None:
        """Join a Wi-Fi network; NetworkManager keeps the profile and joins again at
        boot. Joining the same network again (another password) replaces its profile."""
        refused = network.joinable
        if refused is not None:
            raise ValueError(refused)
        if network.secured:
            check_psk(password)
        await self._apply(_wifi(network.ssid, network.security if network.secured else None,
                                password), device, network.path)

    async def keep_wifi(self, ssid: str, password: str | None) -> None:
        """A Wi-Fi network NetworkManager joins by itself when it is in range (WPA with
        ``password``, else open): the profile setup would make for it, written afresh
        (NetworkManager does not hand its secrets back to compare a new password with)."""
        await self._save(_wifi(ssid.encode(), WPA_PSK if password is not None else None,
                               password or ""))

    async def wired_ipv4(self, device: Device) -> StaticIpv4 | None:
        """The fixed address a wired device's active connection has, None for DHCP (or
        no connection): what the page starts from."""
        props = await self.bus.properties(NM, device.path, DEVICE)
        active = str(props.get("ActiveConnection", "/"))
        if active == "/":
            return None
        connection = (await self.bus.properties(NM, active, f"{NM}.Connection.Active")
                      ).get("Connection", "/")
        if connection == "/":
            return None
        [settings] = await self.bus.call(NM, str(connection), f"{NM}.Settings.Connection",
                                         "GetSettings")
        ipv4 = {k: _plain(v) for k, v in settings.get("ipv4", {}).items()}
        if ipv4.get("method") != "manual" or not ipv4.get("address-data"):
            return None
        first = {k: _plain(v) for k, v in ipv4["address-data"][0].items()}
        return StaticIpv4(
            ipaddress.IPv4Interface(f"{first['address']}/{first['prefix']}"),
            ipaddress.IPv4Address(ipv4["gateway"]) if ipv4.get("gateway") else None,
            tuple(ipaddress.IPv4Address(socket.inet_ntoa(struct.pack("=I", a)))
                  for a in ipv4.get("dns", [])))

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
        await self._apply(settings, device, "/")

    async def _apply(self, settings: dict[str, dict[str, Variant]], device: Device,
                     specific: str) -> None:
        """Save the profile, then bring it up on the device (through ``specific``, the
        access point, for Wi-Fi)."""
        path = await self._save(settings)
        await self.bus.call(NM, NM_PATH, NM, "ActivateConnection", "ooo",
                            [path, device.path, specific])

    async def _save(self, settings: dict[str, dict[str, Variant]]) -> str:
        """Replace this box's profile of that UUID, or add it; its object path."""
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
        return str(path)


def _wifi(ssid: bytes, key_mgmt: str | None, password: str) -> dict[str, dict[str, Variant]]:
    """A Wi-Fi profile, its UUID from the network's name: joining it again replaces it."""
    settings = {
        "connection": _connection(ssid.decode(errors="replace"), "802-11-wireless",
                                  f"wifi-{ssid.hex()}"),
        "802-11-wireless": {"ssid": Variant("ay", ssid), "mode": Variant("s", "infrastructure")},
    }
    if key_mgmt is not None:
        settings["802-11-wireless-security"] = {"key-mgmt": Variant("s", key_mgmt),
                                                "psk": Variant("s", password)}
    return settings


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
