"""Host name, time zone and clock sync, reboot and power off, through systemd's services
(hostnamed, timedated, logind) as every Debian system runs them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config.settings import check_timezone
from .bus import SystemBus

HOSTNAME = ("org.freedesktop.hostname1", "/org/freedesktop/hostname1",
            "org.freedesktop.hostname1")
TIMEDATE = ("org.freedesktop.timedate1", "/org/freedesktop/timedate1",
            "org.freedesktop.timedate1")
LOGIN = ("org.freedesktop.login1", "/org/freedesktop/login1",
         "org.freedesktop.login1.Manager")
# RFC 1123 labels: what DHCP servers and DNS accept as this box's name.
_HOSTNAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)


@dataclass(frozen=True)
class Clock:
    timezone: str
    ntp: bool            # synchronised from the network
    ntp_synced: bool     # and it has succeeded


def check_hostname(name: str) -> str:
    if not _HOSTNAME.fullmatch(name):
        raise ValueError(f"host name {name!r}: letters, digits and -, at most 63, not "
                         f"starting or ending with -")
    return name


async def hostname(bus: SystemBus) -> str:
    props = await bus.properties(*HOSTNAME)
    return str(props.get("StaticHostname") or props.get("Hostname") or "")


async def set_hostname(bus: SystemBus, name: str) -> None:
    # interactive=False: a kiosk has nobody to answer a polkit password prompt.
    await bus.call(*HOSTNAME, "SetStaticHostname", "sb", [check_hostname(name), False])


async def clock(bus: SystemBus) -> Clock:
    props = await bus.properties(*TIMEDATE)
    return Clock(str(props.get("Timezone", "")), bool(props.get("NTP", False)),
                 bool(props.get("NTPSynchronized", False)))


async def set_clock(bus: SystemBus, timezone: str, ntp: bool) -> None:
    await set_timezone(bus, timezone)
    await bus.call(*TIMEDATE, "SetNTP", "bb", [ntp, False])


async def set_timezone(bus: SystemBus, timezone: str) -> bool:
    """Whether it changed; timedated checks the zone against its database and says so
    when it is unknown."""
    if (await clock(bus)).timezone == timezone:
        return False
    await bus.call(*TIMEDATE, "SetTimezone", "sb", [check_timezone(timezone), False])
    return True


async def reboot(bus: SystemBus) -> None:
    await bus.call(*LOGIN, "Reboot", "b", [False])


async def power_off(bus: SystemBus) -> None:
    await bus.call(*LOGIN, "PowerOff", "b", [False])
