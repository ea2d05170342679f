"""Local USB devices through pyusb (libusb 1.0): listing them, and driving one that is
redirected: its kernel drivers detached and interfaces claimed while the guest has it,
given back when it is let go.

Calls block, so the usbredir host makes them on threads of its own. A device that is
unplugged makes every call raise DeviceGone; a transfer that fails raises
TransferFailed with the usbredir status to report.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import usb.core
import usb.util

from ..spice import usbredir as u
from .filter import UsbDevice, UsbInterface
from .iso import IsoStream, Libusb, Listener

log = logging.getLogger(__name__)

_SPEEDS = {usb.util.SPEED_LOW: u.Speed.LOW, usb.util.SPEED_FULL: u.Speed.FULL,
           usb.util.SPEED_HIGH: u.Speed.HIGH, usb.util.SPEED_SUPER: u.Speed.SUPER}
_GONE = (errno.ENODEV, errno.ENOENT, errno.ESHUTDOWN)
SYSFS_DEVICES = Path("/sys/bus/usb/devices")


class DeviceGone(OSError):
    """The device was unplugged (or reset away)."""


class TransferFailed(Exception):
    def __init__(self, status: u.Status) -> None:
        super().__init__(status.name.lower())
        self.status = status


@dataclass(frozen=True)
class Location:
    """Where a device is plugged in: stable while it stays there (unlike its address)."""

    bus: int
    ports: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.bus}-{'.'.join(map(str, self.ports)) or '0'}"


def _location(dev: Any) -> Location:
    return Location(dev.bus, tuple(dev.port_numbers or ()))


def devices() -> list[PyusbDevice]:
    """Every USB device of this machine but the root hubs, in bus and port order."""
    try:
        found = list(usb.core.find(find_all=True))
    except usb.core.NoBackendError:
        raise OSError("libusb is missing: install the libusb-1.0-0 package") from None
    return sorted((PyusbDevice(dev) for dev in found if dev.port_numbers),
                  key=lambda d: (d.location.bus, d.location.ports))


def plugged() -> frozenset[tuple[str, int]] | None:
    """What is plugged in, cheaply enough to ask every second while nothing changes:
    sysfs's USB entries with their inode numbers, which are new for a device plugged out
    and back in, even into the same port. None where sysfs cannot say."""
    try:
        with os.scandir(SYSFS_DEVICES) as entries:
            return frozenset((entry.name, entry.inode()) for entry in entries)
    except FileNotFoundError:
        # sysfs without a USB bus: the kernel has no USB support (yet), so nothing is
        # plugged in until the bus appears; listing through libusb would find nothing.
        return frozenset() if SYSFS_DEVICES.parent.parent.is_dir() else None
    except OSError:
        return None


def _status(exc: usb.core.USBError) -> u.Status:
    if exc.errno in _GONE:
        raise DeviceGone(f"the device is gone ({exc.strerror})") from None
    if exc.errno == errno.EPIPE:
        return u.Status.STALL
    if exc.errno == errno.ETIMEDOUT or isinstance(exc, usb.core.USBTimeoutError):
        return u.Status.TIMEOUT
    if exc.errno == errno.EOVERFLOW:
        return u.Status.BABBLE
    return u.Status.IOERROR


class PyusbDevice:
    def __init__(self, dev: Any) -> None:
        self.dev = dev
        self.location = _location(dev)
        self._claimed: list[int] = []
        self._detached: list[int] = []
        self._alt: dict[int, int] = {}
        self._libusb: Libusb | None = None

    # --- what it is ------------------------------------------------------------------

    @property
    def speed(self) -> u.Speed:
        return _SPEEDS.get(self.dev.speed, u.Speed.UNKNOWN)

    def _config(self) -> Any:
        try:
            return self.dev.get_active_configuration()
        except usb.core.USBError:
            # Unconfigured, or not ours to ask (permissions): the first one describes it.
            return self.dev[0] if self.dev.bNumConfigurations else None

    def describe(self) -> UsbDevice:
        config = self._config()
        interfaces = tuple(
            UsbInterface(i.bInterfaceClass, i.bInterfaceSubClass, i.bInterfaceProtocol)
            for i in (config or ()) if i.bAlternateSetting == 0)
        return UsbDevice(self.dev.bDeviceClass, self.dev.idVendor, self.dev.idProduct,
                         self.dev.bcdDevice, interfaces)

    def product(self) -> str:
        """Its maker and name as it reports them, if it lets us read them."""
        try:
            names = [usb.util.get_string(self.dev, index) for index in
                     (self.dev.iManufacturer, self.dev.iProduct) if index]
        except (usb.core.USBError, ValueError, NotImplementedError):
            return ""
        return " ".join(n.strip() for n in names if n and n.strip())

    # --- while redirected ------------------------------------------------------------

    def open(self) -> None:
        """Take it from the kernel's drivers."""
        config = self._config()
        if config is None:
            raise OSError(f"USB device {self.location} has no configuration")
        try:
            for interface in {i.bInterfaceNumber for i in config}:
                if self.dev.is_kernel_driver_active(interface):
                    self.dev.detach_kernel_driver(interface)
                    self._detached.append(interface)
                usb.util.claim_interface(self.dev, interface)
                self._claimed.append(interface)
        except usb.core.USBError as exc:
            self.close()
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise OSError(f"no permission to take USB device {self.location}: the box's "
                              f"udev rule gives it to the spicebox group") from None
            if exc.errno in _GONE:
                raise DeviceGone(f"USB device {self.location} is gone") from None
            raise OSError(f"cannot take USB device {self.location}: {exc.strerror}") from None
        self._alt = {interface: 0 for interface in self._claimed}

    def close(self) -> None:
        """Give it back to the kernel's drivers (quietly, if it is gone)."""
        for interface in self._claimed:
            with contextlib.suppress(usb.core.USBError):
                usb.util.release_interface(self.dev, interface)
        for interface in self._detached:
            try:
                self.dev.attach_kernel_driver(interface)
            except usb.core.USBError as exc:
                if exc.errno not in _GONE:
                    log.info("USB device %s: interface %d stays without its driver (%s)",
                             self.location, interface, exc.strerror)
        self._claimed, self._detached = [], []
        if self._libusb is not None:
            self._libusb.close()
            self._libusb = None
        usb.util.dispose_resources(self.dev)

    def configuration(self) -> int:
        config = self._config()
        return int(config.bConfigurationValue) if config is not None else 0

    def interfaces(self) -> tuple[u.Interface, ...]:
        config = self._config()
        return tuple(u.Interface(i.bInterfaceNumber, i.bInterfaceClass, i.bInterfaceSubClass,
                                 i.bInterfaceProtocol)
                     for i in (config or ())
                     if i.bAlternateSetting == self._alt.get(i.bInterfaceNumber, 0))

    def endpoints(self) -> tuple[u.Endpoint, ...]:
        slots = [u.Endpoint() for _ in range(u.MAX_ENDPOINTS)]
        control = u.Endpoint(u.TransferType.CONTROL, 0, 0, self.dev.bMaxPacketSize0)
        slots[0x00] = slots[0x10] = control
        for interface in self._config() or ():
            if interface.bAlternateSetting != self._alt.get(interface.bInterfaceNumber, 0):
                continue
            for ep in interface:
                slots[u.endpoint_index(ep.bEndpointAddress)] = u.Endpoint(
                    ep.bmAttributes & 3, ep.bInterval, interface.bInterfaceNumber,
                    self._max_packet_size(ep))
        return tuple(slots)

    def _max_packet_size(self, ep: Any) -> int:
        """A high-speed isochronous endpoint may move up to three packets per microframe
        (bits 11-12 of wMaxPacketSize): one packet of the guest's carries them all."""
        size = int(ep.wMaxPacketSize & 0x7FF)
        if self.speed == u.Speed.HIGH and ep.bmAttributes & 3 == u.TransferType.ISO:
            size *= 1 + min((ep.wMaxPacketSize >> 11) & 3, 2)
        return size

    def set_configuration(self, value: int) -> None:
        """As usbredirhost does it: the configuration in force is kept as it is (libusb
        cannot set it while its interfaces are claimed); another is set with the
        interfaces let go, and those of the new one taken."""
        if value == self.configuration():
            return
        for interface in self._claimed:
            with contextlib.suppress(usb.core.USBError):
                usb.util.release_interface(self.dev, interface)
        self._claimed = []
        self._call(self.dev.set_configuration, value)
        try:
            self.open()
        except OSError:
            raise TransferFailed(u.Status.IOERROR) from None

    def alt_setting(self, interface: int) -> int:
        return self._alt.get(interface, 0)

    def set_alt_setting(self, interface: int, alt: int) -> None:
        self._call(self.dev.set_interface_altsetting, interface, alt)
        self._alt[interface] = alt

    def control(self, requesttype: int, request: int, value: int, index: int,
                data_or_length: bytes | int, timeout_ms: int) -> bytes:
        result = self._call(self.dev.ctrl_transfer, requesttype, request, value, index,
                            data_or_length, timeout_ms)
        return bytes(result) if not isinstance(result, int) else b""

    def read(self, endpoint: int, length: int, timeout_ms: int) -> bytes:
        return bytes(self._call(self.dev.read, endpoint, length, timeout_ms))

    def write(self, endpoint: int, data: bytes, timeout_ms: int) -> int:
        written: int = self._call(self.dev.write, endpoint, data, timeout_ms)
        return written

    def reset(self) -> None:
        """Reset it and keep it: the guest resets a device it enumerates, and the box's
        own driver must not take it back meanwhile."""
        error = self._native().reset()
        if error:
            raise DeviceGone(f"USB device {self.location} is not ours after its reset "
                             f"({self._native().error_name(error)})")
        self._alt = dict.fromkeys(self._alt, 0)

    def iso_stream(self, endpoint: int, packet_size: int, packets: int, transfers: int,
                   listener: Listener) -> IsoStream:
        return self._native().stream(endpoint, packet_size, packets, transfers, listener)

    def _native(self) -> Libusb:
        if self._libusb is None:
            try:
                self._libusb = Libusb(self.dev)
            except usb.core.USBError as exc:  # (the device went before it was opened)
                raise TransferFailed(_status(exc)) from None
        return self._libusb

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except usb.core.USBError as exc:
            status = _status(exc)
            if status not in (u.Status.STALL, u.Status.TIMEOUT):  # (what devices do)
                log.info("USB device %s: %s%s failed: %s", self.location, fn.__name__, args,
                         exc.strerror or exc)
            raise TransferFailed(status) from None
