"""Keyboards, mice and touch screens read straight from /dev/input on a device.

Each is grabbed while the session runs, so keys typed into the remote desktop do not
also reach the console underneath; devices plugged in later are picked up through
inotify on /dev/input (udev creates the node, then gives it its permissions: both are
watched). A device unplugged mid-session is dropped with one log line; the session goes
on. What events mean is decided in evdev_events.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..spice.constants import KeyModifiers
from .evdev_events import Capabilities, DeviceEvents, Pointer
from .events import InputEvent, Locks

log = logging.getLogger(__name__)

_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
_IN_ATTRIB, _IN_CREATE = 0x4, 0x100
_INOTIFY_EVENT = struct.Struct("iIII")
_LED_NUML, _LED_CAPSL, _LED_SCROLLL = 0, 1, 2
_LEDS = ((KeyModifiers.NUM_LOCK, _LED_NUML), (KeyModifiers.CAPS_LOCK, _LED_CAPSL),
         (KeyModifiers.SCROLL_LOCK, _LED_SCROLLL))


class EvdevInput:
    def __init__(self, directory: Path = Path("/dev/input")) -> None:
        self.directory = directory
        self.pointer = Pointer()
        self.devices: dict[str, tuple[Any, DeviceEvents]] = {}  # path -> (device, events)
        self._on_event: Callable[[InputEvent], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inotify: int | None = None

    def start(self, on_event: Callable[[InputEvent], None]) -> None:
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._inotify = _watch(self.directory)
        if self._inotify is not None:
            self._loop.add_reader(self._inotify, self._hotplug)
        for path in sorted(self.directory.glob("event*")):
            self._open(path)
        if not self.devices:
            log.warning("no keyboard, mouse or touch screen found in %s (or no permission "
                        "to read them: the service user needs the 'input' group)",
                        self.directory)

    def close(self) -> None:
        for path in list(self.devices):
            self._drop(path)
        if self._inotify is not None:
            assert self._loop is not None
            self._loop.remove_reader(self._inotify)
            os.close(self._inotify)
            self._inotify = None

    def bounds(self, width: int, height: int) -> None:
        """The screen the local pointer moves on (monitor 0)."""
        self.pointer.bounds(width, height)

    def set_locks(self, locks: KeyModifiers) -> None:
        """Light the keyboards' Caps/Num/Scroll Lock LEDs as the guest has them."""
        for device, events in self.devices.values():
            if events.caps.kind == "keyboard":
                for flag, led in _LEDS:
                    try:
                        device.set_led(led, int(flag in locks))
                    except OSError:
                        break  # unplugged: the read side notices and drops it

    # --- devices ----------------------------------------------------------------------

    def _open(self, path: Path) -> None:
        import evdev  # noqa: PLC0415 - only devices need it; tests and x11 do not

        if str(path) in self.devices:
            return
        try:
            device = evdev.InputDevice(str(path))
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.ENODEV, errno.ENOENT):
                log.warning("cannot open %s: %s", path, exc.strerror)
            return  # EACCES right after creation: udev fixes it, IN_ATTRIB says when
        caps = capabilities_of(device)
        if caps.kind is None:
            device.close()
            return
        try:
            device.grab()
        except OSError as exc:
            log.warning("%s (%s) is in use elsewhere; its input also goes there: %s",
                        device.name, path, exc.strerror)
        events = DeviceEvents(caps, self.pointer)
        self.devices[str(path)] = (device, events)
        assert self._loop is not None
        self._loop.add_reader(device.fd, self._read, str(path))
        log.info("input: %s %r (%s)", caps.kind, device.name, path)
        if caps.kind == "keyboard" and self._on_event is not None:
            leds = set(device.leds())
            self._on_event(Locks(KeyModifiers(sum(int(flag) for flag, led in _LEDS
                                                  if led in leds))))

    def _read(self, path: str) -> None:
        device, events = self.devices[path]
        try:
            for event in device.read():
                for found in events.feed(event.type, event.code, event.value):
                    assert self._on_event is not None
                    self._on_event(found)
        except BlockingIOError:
            pass
        except OSError as exc:
            log.warning("input: %r went away (%s)", device.name, exc.strerror)
            self._drop(path)

    def _drop(self, path: str) -> None:
        device, _ = self.devices.pop(path)
        assert self._loop is not None
        self._loop.remove_reader(device.fd)
        with contextlib.suppress(OSError):  # already gone
            device.ungrab()
        device.close()

    def _hotplug(self) -> None:
        assert self._inotify is not None
        try:
            data = os.read(self._inotify, 4096)
        except BlockingIOError:
            return
        pos = 0
        while pos + _INOTIFY_EVENT.size <= len(data):
            _wd, _mask, _cookie, length = _INOTIFY_EVENT.unpack_from(data, pos)
            name = data[pos + _INOTIFY_EVENT.size:pos + _INOTIFY_EVENT.size + length]
            pos += _INOTIFY_EVENT.size + length
            name = name.rstrip(b"\0")
            if name.startswith(b"event"):
                self._open(self.directory / name.decode())


def capabilities_of(device: Any) -> Capabilities:
    """What python-evdev reports of an opened ``device``, in evdev_events' terms."""
    raw = device.capabilities(absinfo=True)
    ranges = {code: (info.min, info.max) for code, info in raw.get(3, [])}  # EV_ABS
    return Capabilities(frozenset(raw.get(1, [])), frozenset(raw.get(2, [])), ranges)


def _watch(directory: Path) -> int | None:
    """An inotify descriptor watching ``directory`` for new and re-permissioned nodes."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
    if fd < 0:
        log.warning("no inotify (%s): devices plugged in later are not seen",
                    os.strerror(ctypes.get_errno()))
        return None
    if libc.inotify_add_watch(fd, bytes(directory), _IN_CREATE | _IN_ATTRIB) < 0:
        log.warning("cannot watch %s (%s): devices plugged in later are not seen",
                    directory, os.strerror(ctypes.get_errno()))
        os.close(fd)
        return None
    return fd
