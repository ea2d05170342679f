"""The Network and System pages against a real dbus-daemon with python-dbusmock's
NetworkManager, logind and timedated (and a mock hostnamed): what the pages show, and
exactly what they ask the services to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dbus_fast import Variant
from evdev import ecodes as e

from spicebox.config.store import ConfigPaths, ConfigStore
from spicebox.provisioning.agent import apply_system
from spicebox.provisioning.dhcp import site_from_dhcp
from spicebox.system.network import NM, NM_PATH
from spicebox.system.services import HOSTNAME, LOGIN, TIMEDATE
from spicebox.ui.pages.network import NetworkPage
from spicebox.ui.pages.system import SystemPage
from tests.rig.dbus import (
    MockBus,
    dbusmock_available,
    mock_system_bus,
    start_network_manager,
    start_system_services,
)
from tests.rig.ui import UiDriver, choice, field

pytestmark = pytest.mark.skipif(not dbusmock_available(),
                                reason="dbus-daemon and python3-dbusmock: make setup")
SETTINGS = "/org/freedesktop/NetworkManager/Settings"


@pytest.fixture
def bus() -> Iterator[MockBus]:
    with mock_system_bus() as running:
        yield running


def test_a_wired_device_gets_a_fixed_address_then_dhcp(bus: MockBus, tmp_path: Path) -> None:
    start_network_manager(bus)
    ui = UiDriver(tmp_path / "config")
    ui.open(NetworkPage(ui.app))
    ui.settle()
    assert ui.texts()[:2] == ["eth0", "wlan0"]
    ui.tap("eth0")
    assert ui.page.title == "Wired: eth0"
    ui.focus_by_keys("Addressing")

    ui.key(e.KEY_RIGHT)
    assert choice(ui.page, "Addressing").value == "static"
    field(ui.page, "Address").text = "192.168.7.20/24"
    field(ui.page, "Gateway").text = "10.0.0.1"
    ui.tap("Apply")
    assert "is not in 192.168.7.0/24" in ui.page.status  # refused before asking anyone
    assert bus.calls(NM, SETTINGS, "AddConnection") == []
    field(ui.page, "Gateway").text = "192.168.7.1"
    field(ui.page, "DNS servers").text = "192.168.7.1, 9.9.9.9"
    ui.tap("Apply")
    ui.settle()
    assert ui.page.status == "eth0: 192.168.7.20/24 applied"
    [[settings]] = bus.calls(NM, SETTINGS, "AddConnection")
    assert settings["connection"]["interface-name"] == "eth0"
    assert settings["ipv4"] == {
        "method": "manual", "address-data": [{"address": "192.168.7.20", "prefix": 24}],
        "gateway": "192.168.7.1", "dns": [0x0107A8C0, 0x09090909]}
    [[connection, device, _]] = bus.calls(NM, NM_PATH, "ActivateConnection")
    assert device.endswith("/Devices/eth0")

    ui.tap("eth0")
    ui.settle()  # the page starts from what the device has now
    assert choice(ui.page, "Addressing").value == "static"
    assert field(ui.page, "Address").text == "192.168.7.20/24"
    assert field(ui.page, "DNS servers").text == "192.168.7.1 9.9.9.9"
    ui.focus_by_keys("Addressing")
    ui.key(e.KEY_LEFT)
    ui.tap("Apply")  # automatic (DHCP)
    ui.settle()
    [[update]] = bus.calls(NM, connection, "Update")  # the same profile, replaced
    assert update["ipv4"] == {"method": "auto"}
    assert len(bus.calls(NM, SETTINGS, "AddConnection")) == 1


def test_joining_a_wifi_network(bus: MockBus, tmp_path: Path) -> None:
    start_network_manager(bus)
    ui = UiDriver(tmp_path / "config")
    ui.open(NetworkPage(ui.app))
    ui.settle()
    ui.tap("wlan0")
    ui.settle()
    assert ui.texts() == ["office", "guests", "Scan again", "Back"]  # strongest first
    ui.tap("office")
    field(ui.page, "Password").text = "short"
    ui.tap("Join")
    assert "8 to 63 characters" in ui.page.status
    field(ui.page, "Password").text = "wrong horse"
    ui.tap("Join")
    ui.settle()
    assert ui.page.status == "Joined office"
    [[settings]] = bus.calls(NM, SETTINGS, "AddConnection")
    assert settings["802-11-wireless"]["ssid"] == b"office"
    assert settings["802-11-wireless-security"] == {"key-mgmt": "wpa-psk",
                                                    "psk": "wrong horse"}
    [[connection, device, access_point]] = bus.calls(NM, NM_PATH, "ActivateConnection")
    assert device.endswith("/wlan0") and access_point.endswith("/ap2")  # the strongest
    # The password was wrong: joining again replaces the network's profile.
    ui.tap("office")
    field(ui.page, "Password").text = "correct horse"
    ui.tap("Join")
    ui.settle()
    assert ui.page.status == "Joined office"
    assert len(bus.calls(NM, SETTINGS, "AddConnection")) == 1
    [[update]] = bus.calls(NM, connection, "Update")
    assert update["802-11-wireless-security"]["psk"] == "correct horse"


def test_without_network_manager_the_page_says_so(bus: MockBus, tmp_path: Path) -> None:
    ui = UiDriver(tmp_path / "config")
    ui.open(NetworkPage(ui.app))
    ui.settle()
    assert ui.texts()[0] == "NetworkManager is not running on this device"


def test_the_system_page_names_the_box_and_sets_its_clock(bus: MockBus,
                                                          tmp_path: Path) -> None:
    start_system_services(bus)
    ui = UiDriver(tmp_path / "config")
    ui.open(SystemPage(ui.app))
    ui.settle()
    assert field(ui.page, "Host name").text == "spicebox-1f2e"
    assert field(ui.page, "Time zone").text == "Europe/Paris"
    assert choice(ui.page, "Clock").value == "yes"
    field(ui.page, "Host name").text = "front-desk_2"
    ui.tap("Save")
    assert "letters, digits and -" in ui.page.status
    field(ui.page, "Host name").text = "front-desk-2"
    field(ui.page, "Time zone").text = "Europe/Berlin"
    field(ui.page, "Provisioning server").text = "https://provision.example.org/fleet"
    ui.tap("Save")
    ui.settle()
    assert ui.page.status == "Saved"
    assert bus.calls(*HOSTNAME[:2], "SetStaticHostname") == [["front-desk-2", False]]
    assert bus.calls(*TIMEDATE[:2], "SetTimezone") == [["Europe/Berlin", False]]
    assert bus.calls(*TIMEDATE[:2], "SetNTP") == [[True, False]]
    assert ui.store.load().system.provisioning_url == "https://provision.example.org/fleet"

    ui.tap("Restart")
    assert ui.page.title == "Restart?"
    ui.tap("Restart")
    ui.settle()
    assert bus.calls(*LOGIN[:2], "Reboot") == [[False]]
    assert bus.calls(*LOGIN[:2], "PowerOff") == []


def test_the_provisioning_site_comes_from_the_dhcp_lease(bus: MockBus) -> None:
    """NetworkManager's DHCP4Config of the active connection carries option 224 (as the
    hex it shows options it has no name for): that is where the box provisions from."""
    start_network_manager(bus)
    site = "https://sites.example.org/spicebox"
    lease = "/org/freedesktop/NetworkManager/DHCP4Config/1"
    bus.mock(NM, NM_PATH, "AddObject", "ssa{sv}a(ssss)", [
        lease, f"{NM}.DHCP4Config", {"Options": Variant("a{sv}", {
            "domain_name": Variant("s", "example.org"),
            "private_224": Variant("s", ":".join(f"{b:02x}" for b in site.encode()))})},
        []])
    active = "/org/freedesktop/NetworkManager/ActiveConnection/1"
    bus.mock(NM, NM_PATH, "AddObject", "ssa{sv}a(ssss)", [
        active, f"{NM}.Connection.Active", {"Dhcp4Config": Variant("o", lease)}, []])
    bus.mock(NM, NM_PATH, "SetProperty", "sssv", [
        NM_PATH, NM, "ActiveConnections", Variant("ao", [active])])
    assert site_from_dhcp() == site


def test_a_provisioned_time_zone_is_set_through_timedated_once(bus: MockBus,
                                                                 tmp_path: Path) -> None:
    start_system_services(bus)
    store = ConfigStore(ConfigPaths.under(tmp_path / "config"))
    store.apply_provisioned({"system": {"time-zone": "America/Chicago"}}, "a test site")
    apply_system(store)
    assert bus.calls(*TIMEDATE[:2], "SetTimezone") == [["America/Chicago", False]]
    apply_system(store)  # timedated now says so: not asked again
    assert len(bus.calls(*TIMEDATE[:2], "SetTimezone")) == 1


def test_a_provisioned_wifi_network_is_kept_by_network_manager(bus: MockBus,
                                                                tmp_path: Path) -> None:
    start_network_manager(bus)
    store = ConfigStore(ConfigPaths.under(tmp_path / "config"))
    store.apply_provisioned({"network": {"wifi-ssid": "office",
                                         "wifi-password": "correct horse"}}, "a test site")
    apply_system(store)
    [[settings]] = bus.calls(NM, SETTINGS, "AddConnection")
    assert bytes(settings["802-11-wireless"]["ssid"]) == b"office"
    assert settings["802-11-wireless-security"] == {"key-mgmt": "wpa-psk",
                                                    "psk": "correct horse"}
    assert settings["connection"]["autoconnect"] is True
    assert bus.calls(NM, NM_PATH, "ActivateConnection") == []  # joined when in range
    store.apply_provisioned({"network": {"wifi-ssid": "office",
                                         "wifi-password": "battery staple"}}, "a test site")
    apply_system(store)  # the same network, a new password: its profile, replaced
    assert len(bus.calls(NM, SETTINGS, "AddConnection")) == 1
    [connection] = bus.call(NM, SETTINGS, f"{NM}.Settings", "ListConnections")[0]
    [[update]] = bus.calls(NM, connection, "Update")
    assert update["802-11-wireless-security"]["psk"] == "battery staple"
