"""Which local USB devices go to the server, on which of its usbredir channels: those the
auto-redirect filter picks, when the session starts and whenever one is plugged in, as
many as the server has channels; each let go when it is unplugged or the session ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .device import Location, devices, plugged
from .filter import Rule, UsbDevice, auto_redirects, decide
from .host import Device, UsbredirHost

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often sysfs is asked whether anything was plugged or pulled
NO_CHANNEL = "every USB channel the server has is in use (or it has none)"


@dataclass(frozen=True)
class UsbPolicy:
    """The redirect filter (what may ever go) and the auto-redirect filter (what goes by
    itself when plugged in)."""

    redirect: tuple[Rule, ...]
    auto: tuple[Rule, ...]


class LocalDevice(Device, Protocol):
    """A device plugged into this box (usb.device.PyusbDevice)."""

    @property
    def location(self) -> Location: ...

    def product(self) -> str: ...


Connect = Callable[[int, UsbredirHost], None]
Disconnect = Callable[[int], object]


class UsbRedirection:
    def __init__(self, policy: UsbPolicy,
                 list_devices: Callable[[], Sequence[LocalDevice]] = devices,
                 changes: Callable[[], Hashable | None] = plugged) -> None:
        self.policy = policy
        self._list = list_devices
        self._changes = changes  # None: cannot tell, list every time
        self.channels: list[int] = []  # the server's usbredir channel ids
        self.redirected: dict[Location, tuple[int, UsbredirHost]] = {}
        self._seen: set[Location] = set()
        self._connect: Connect | None = None
        self._disconnect: Disconnect = lambda channel_id: None
        self._refused: set[Location] = set()  # said once why each stays local
        self._waiting: set[Location] = set()  # picked by the auto filter, for a channel

    def start(self, channel_ids: list[int], connect: Connect, disconnect: Disconnect) -> None:
        """The server offers these channels. ``connect(channel_id, host)`` opens one for
        a device; ``disconnect(channel_id)`` (called from any thread) closes it once that
        redirection is over."""
        self.channels, self._connect, self._disconnect = sorted(channel_ids), connect, \
            disconnect

    async def watch(self) -> None:
        """Redirect what the auto filter picks, now and as devices are plugged in."""
        # Listing the devices through libusb reads every device's sysfs files: 1.5 ms
        # on a PC, each second, for nothing while no device comes or goes.
        last: Hashable | None = None
        while True:
            now = self._changes()
            if (now is None or now != last or self._waiting) and self.scan():
                last = now  # a listing that failed is tried again next time
            await asyncio.sleep(POLL_SECONDS)

    def scan(self) -> bool:
        """Look at what is plugged in; whether the devices could be listed."""
        try:
            present = {device.location: device for device in self._list()}
        except OSError as exc:
            log.warning("USB devices cannot be listed: %s", exc)
            return False
        for location in self._seen - present.keys():
            self._refused.discard(location)
            self._waiting.discard(location)
        for location, device in present.items():
            if location in self.redirected or (location in self._seen
                                               and location not in self._waiting):
                continue
            info = device.describe()  # a control transfer: asked once per look
            if auto_redirects(info, self.policy.auto):
                if self.redirect(device, info) == NO_CHANNEL:
                    self._waiting.add(location)  # until a redirection ends
                else:
                    self._waiting.discard(location)
        self._seen = set(present)
        return True

    def redirect(self, device: LocalDevice, info: UsbDevice | None = None) -> str | None:
        """Send ``device`` (described by ``info``, if the caller has it) to the server;
        None, or why it was not."""
        if device.location in self.redirected:
            return None
        info = info or device.describe()
        allowed, why = decide(info, self.policy.redirect)
        taken = {channel for channel, _ in self.redirected.values()}
        free = [c for c in self.channels if c not in taken]
        if allowed and not free:
            allowed, why = False, NO_CHANNEL
        if not allowed or self._connect is None:
            if device.location not in self._refused:
                log.info("USB device %s %04x:%04x stays local: %s", device.location,
                         info.vendor_id, info.product_id, why)
                self._refused.add(device.location)
            return why
        location = device.location
        host = UsbredirHost(device, lambda reason: self.ended(location, reason),
                            self.policy.redirect)
        self.redirected[location] = (free[0], host)
        log.info("redirecting USB device %s %04x:%04x (%s) on usbredir:%d", location,
                 host.info.vendor_id, host.info.product_id, device.product() or "no name",
                 free[0])
        self._connect(free[0], host)
        return None

    def ended(self, location: Location, why: str) -> None:
        redirected = self.redirected.pop(location, None)
        if redirected is not None:
            log.info("USB device %s is back with the box: %s", location, why)
            self._disconnect(redirected[0])

    def close(self) -> None:
        for _, host in list(self.redirected.values()):
            host.end("the session ended")
