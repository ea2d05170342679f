"""`spicebox diag input`: what input devices the client sees, and what each key sends.

For support: a keyboard that "types the wrong characters" in the remote desktop is either
a wrong layout in the guest (the scancodes here are right) or a key this table lacks.
"""

from __future__ import annotations

import errno
import select
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .evdev_events import EV_KEY
from .evdev_source import capabilities_of
from .scancodes import set1_bytes


def _open_each(directory: Path) -> Iterator[tuple[Path, Any]]:
    """Every event device in ``directory``, in number order: opened, or the OSError."""
    import evdev  # noqa: PLC0415

    for path in sorted(directory.glob("event*"), key=lambda p: int(p.name[5:] or 0)):
        try:
            yield path, evdev.InputDevice(str(path))
        except OSError as exc:
            yield path, exc


def describe_devices(directory: Path = Path("/dev/input")) -> list[str]:
    """One line per event device: path, name, and what the session would do with it."""
    lines = []
    for path, device in _open_each(directory):
        if isinstance(device, OSError):
            why = ("no permission: the user needs the 'input' group"
                   if device.errno == errno.EACCES else device.strerror)
            lines.append(f"{path}: cannot open ({why})")
            continue
        kind = capabilities_of(device).kind
        use = f"used as a {kind}" if kind else "left to the system"
        lines.append(f"{path}: {device.name!r} ({use})")
        device.close()
    return lines or [f"no input devices in {directory}"]


def key_line(code: int, pressed: bool) -> str:
    """What the client sends for one key event, in words."""
    import evdev  # noqa: PLC0415

    name = evdev.ecodes.KEY.get(code, f"key {code}")
    if isinstance(name, list):  # aliases: KEY_MUTE and KEY_MIN_INTERESTING
        name = name[0]
    sent = set1_bytes(code, pressed)
    scancode = " ".join(f"{b:02x}" for b in sent) if sent else "(nothing: no PC scancode)"
    return f"{name} ({code}) {'down' if pressed else 'up'} -> {scancode}"


def watch_keys(seconds: float, out: Callable[[str], None],
               directory: Path = Path("/dev/input")) -> None:
    """Print every key typed on any keyboard for ``seconds`` (without grabbing: the keys
    also reach whatever has the keyboard)."""
    keyboards: list[Any] = []
    for _, device in _open_each(directory):
        if isinstance(device, OSError):
            continue  # already said by describe_devices
        if capabilities_of(device).kind == "keyboard":
            keyboards.append(device)
        else:
            device.close()
    if not keyboards:
        out("no keyboard to read (see the list above)")
        return
    out(f"type on the keyboard for {seconds:.0f} s:")
    deadline = time.monotonic() + seconds
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(keyboards, [], [], remaining)
            for device in ready:
                for event in device.read():
                    if event.type == EV_KEY and event.value in (0, 1):
                        out(key_line(event.code, bool(event.value)))
    finally:
        for device in keyboards:
            device.close()
