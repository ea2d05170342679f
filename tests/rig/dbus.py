"""A private system bus (a real dbus-daemon) with python-dbusmock services on it:
NetworkManager, logind and timedated from dbusmock's templates, hostnamed as a plain mock
object. The client finds the bus through $DBUS_SYSTEM_BUS_ADDRESS, as on a device it
finds the real one; tests read what the services were asked through dbusmock's Mock
interface."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dbus_fast import Variant

from spicebox.system.bus import SystemBus
from spicebox.system.network import NM, NM_PATH
from spicebox.system.services import HOSTNAME, LOGIN, TIMEDATE

MOCK = "org.freedesktop.DBus.Mock"
# dbusmock runs on the system's Python (Debian's python3-dbusmock, with dbus-python and
# GLib), in processes of its own; the client under test uses dbus-fast.
SYSTEM_PYTHON = "/usr/bin/python3"


def dbusmock_available() -> bool:
    return shutil.which("dbus-daemon") is not None and subprocess.run(
        [SYSTEM_PYTHON, "-c", "import dbusmock"], capture_output=True, check=False
    ).returncode == 0


class MockBus:
    def __init__(self, address: str) -> None:
        self.address = address
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, name: str) -> None:
        """``python3 -m dbusmock --system ARGS``; returns once ``name`` is on the bus."""
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}
        self._processes.append(subprocess.Popen(
            [SYSTEM_PYTHON, "-m", "dbusmock", "--system", *args], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 15
        while not self.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus", "NameHasOwner", "s", [name])[0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"dbusmock did not bring up {name}")
            time.sleep(0.05)

    def call(self, service: str, path: str, interface: str, member: str,
             signature: str = "", body: list[Any] | None = None) -> list[Any]:
        async def call() -> list[Any]:
            async with SystemBus() as bus:  # this bus: mock_system_bus made it the system's
                return await bus.call(service, path, interface, member, signature,
                                      body or [])
        return asyncio.run(call())

    def mock(self, service: str, path: str, member: str, signature: str = "",
             body: list[Any] | None = None) -> list[Any]:
        """A call to dbusmock's own interface on one of its objects."""
        return self.call(service, path, MOCK, member, signature, body)

    def calls(self, service: str, path: str, method: str) -> list[list[Any]]:
        """The arguments of each call of ``method`` the object received."""
        [found] = self.mock(service, path, "GetMethodCalls", "s", [method])
        return [[_plain(v) for v in args] for _, args in found]

    def close(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.wait(10)


def _plain(value: Any) -> Any:
    """Without dbus-fast's Variant wrappers, at any depth: what assertions compare."""
    while isinstance(value, Variant):
        value = value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@contextmanager
def mock_system_bus() -> Iterator[MockBus]:
    """A dbus-daemon of its own, made the system bus of this process meanwhile."""
    workdir = Path(tempfile.mkdtemp(prefix="spicebox-dbus-"))
    socket_path = workdir / "system_bus_socket"
    config = workdir / "bus.conf"
    config.write_text(f"""<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket_path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
""")
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork",
                               "--nopidfile"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    address = f"unix:path={socket_path}"
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if daemon.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("dbus-daemon did not start")
        time.sleep(0.02)
    previous = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
    bus = MockBus(address)
    try:
        yield bus
    finally:
        if previous is None:
            del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = previous
        bus.close()
        daemon.terminate()
        daemon.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


PSK = 0x100  # NM_802_11_AP_SEC_KEY_MGMT_PSK


def start_network_manager(bus: MockBus) -> None:
    """NetworkManager with a wired device (connected) and a Wi-Fi one (disconnected) that
    sees three access points: two of one network, one open network."""
    bus.start("--template", "networkmanager", name=NM)
    bus.mock(NM, NM_PATH, "AddEthernetDevice", "ssi", ["eth0", "eth0", 100])
    [wifi] = bus.mock(NM, NM_PATH, "AddWiFiDevice", "ssi", ["wlan0", "wlan0", 30])
    for name, ssid, strength, security in (("ap1", "office", 60, PSK),
                                           ("ap2", "office", 85, PSK),
                                           ("ap3", "guests", 40, 0)):
        bus.mock(NM, NM_PATH, "AddAccessPoint", "ssssuuuyu",
                 [wifi, name, ssid, "00:11:22:33:44:55", 2, 2412, 54000, strength, security])


def start_system_services(bus: MockBus) -> None:
    """timedated (Europe/Paris, NTP on), logind, and hostnamed (spicebox-1f2e)."""
    bus.start("--template", "timedated", "--parameters",
              '{"Timezone": "Europe/Paris", "NTP": true}', name=TIMEDATE[0])
    bus.start("--template", "logind", name=LOGIN[0])
    bus.start(*HOSTNAME, name=HOSTNAME[0])
    bus.mock(*HOSTNAME[:2], "AddProperties", "sa{sv}", [HOSTNAME[2], {
        "StaticHostname": Variant("s", "spicebox-1f2e"), "Hostname": Variant("s", "x")}])
    bus.mock(*HOSTNAME[:2], "AddMethod", "sssss", ["", "SetStaticHostname", "sb", "", ""])
