"""Linux input events (type, code, value), as evdev devices deliver them, turned into the
session's input events. Pure: the device side (opening, grabbing, hotplug) is in
evdev_source.py; this is what makes a keyboard, a mouse or a touch screen behave.

One pointer is shared by every mouse and touch screen, as on any desktop: relative motion
moves it within the screen, an absolute device (touch, tablet) puts it where it is
touched, and a touch is a left click at that point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..spice.constants import MouseButton
from .events import Button, InputEvent, Key, PointerMotion

# linux/input-event-codes.h
EV_SYN, EV_KEY, EV_REL, EV_ABS = 0, 1, 2, 3
SYN_REPORT = 0
REL_X, REL_Y, REL_WHEEL = 0, 1, 8
ABS_X, ABS_Y, ABS_MT_POSITION_X, ABS_MT_POSITION_Y = 0, 1, 0x35, 0x36
BTN_MOUSE, BTN_TOUCH = 0x110, 0x14A
KEY_A, KEY_ENTER = 30, 28
_BUTTONS = {0x110: MouseButton.LEFT, 0x111: MouseButton.RIGHT, 0x112: MouseButton.MIDDLE,
            0x113: MouseButton.SIDE, 0x114: MouseButton.EXTRA}
# Key codes below this are keyboard keys; 0x100..0x15F are buttons of mice, joysticks,
# tablets; above are more keys (KEY_OK, KEY_SELECT, ... remote controls).
_FIRST_BUTTON, _AFTER_BUTTONS = 0x100, 0x160


@dataclass(frozen=True)
class Capabilities:
    keys: frozenset[int] = frozenset()
    rel: frozenset[int] = frozenset()
    abs_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        """What the session uses the device as, or None to leave it to the system (a
        power button, a lid switch, a joystick)."""
        if {KEY_A, KEY_ENTER} <= self.keys:
            return "keyboard"
        if {REL_X, REL_Y} <= self.rel and BTN_MOUSE in self.keys:
            return "mouse"
        if BTN_TOUCH in self.keys and (self._abs_xy(ABS_X, ABS_Y)
                                       or self._abs_xy(ABS_MT_POSITION_X, ABS_MT_POSITION_Y)):
            return "touch"
        return None

    def _abs_xy(self, x: int, y: int) -> bool:
        return x in self.abs_ranges and y in self.abs_ranges


class Pointer:
    """The one local pointer, in the coordinates of monitor 0."""

    def __init__(self) -> None:
        self.x = self.y = 0
        self.width = self.height = 1

    def bounds(self, width: int, height: int) -> None:
        self.width, self.height = max(1, width), max(1, height)
        self.x, self.y = min(self.x, self.width - 1), min(self.y, self.height - 1)

    def move_to(self, x: int, y: int) -> PointerMotion:
        x, y = min(max(x, 0), self.width - 1), min(max(y, 0), self.height - 1)
        # dx/dy are what the device moved (server mouse mode passes them on as they are);
        # x/y are where the pointer is now.
        motion = PointerMotion(0, x, y, x - self.x, y - self.y)
        self.x, self.y = x, y
        return motion


class DeviceEvents:
    """One device's event stream; ``feed`` returns what each event completes."""

    def __init__(self, capabilities: Capabilities, pointer: Pointer) -> None:
        self.caps = capabilities
        self.pointer = pointer
        self._dx = self._dy = 0
        self._abs: dict[int, int] = {}
        self._touch: bool | None = None  # a touch began or ended in this report

    def feed(self, kind: int, code: int, value: int) -> list[InputEvent]:
        if kind == EV_KEY:
            return self._key(code, value)
        if kind == EV_REL:
            if code == REL_X:
                self._dx += value
            elif code == REL_Y:
                self._dy += value
            elif code == REL_WHEEL and value:
                wheel = MouseButton.UP if value > 0 else MouseButton.DOWN
                return [Button(wheel, pressed) for _ in range(min(abs(value), 10))
                        for pressed in (True, False)]
        elif kind == EV_ABS:
            if code in (ABS_X, ABS_Y, ABS_MT_POSITION_X, ABS_MT_POSITION_Y):
                self._abs[code] = value
        elif kind == EV_SYN and code == SYN_REPORT:
            return self._report()
        return []

    def _key(self, code: int, value: int) -> list[InputEvent]:
        if value == 2:
            return []  # autorepeat: the guest repeats held keys itself
        if code == BTN_TOUCH:
            self._touch = bool(value)  # acted on at the report, once the position is in
            return []
        if code in _BUTTONS:
            return [Button(_BUTTONS[code], bool(value))]
        if _FIRST_BUTTON <= code < _AFTER_BUTTONS:
            return []  # joystick and tablet-tool buttons mean nothing to a desktop
        return [Key(code, bool(value))]

    def _report(self) -> list[InputEvent]:
        found: list[InputEvent] = []
        if self._dx or self._dy:
            motion = self.pointer.move_to(self.pointer.x + self._dx, self.pointer.y + self._dy)
            # A pointer held at the screen's edge still moves the guest's in server mode.
            found.append(PointerMotion(0, motion.x, motion.y, self._dx, self._dy))
            self._dx = self._dy = 0
        position = self._absolute()
        if position is not None:
            found.append(self.pointer.move_to(*position))
        if self._touch is not None:
            found.append(Button(MouseButton.LEFT, self._touch))
            self._touch = None
        return found

    def _absolute(self) -> tuple[int, int] | None:
        if not self._abs:
            return None
        ranges = self.caps.abs_ranges
        axes = ((ABS_X, ABS_Y) if ABS_X in self._abs or ABS_Y in self._abs
                else (ABS_MT_POSITION_X, ABS_MT_POSITION_Y))
        size = (self.pointer.width, self.pointer.height)
        current = (self.pointer.x, self.pointer.y)
        out = []
        for axis, extent, now in zip(axes, size, current, strict=True):
            if axis not in self._abs or axis not in ranges:
                out.append(now)
                continue
            low, high = ranges[axis]
            span = max(1, high - low)
            out.append((self._abs[axis] - low) * (extent - 1) // span)
        self._abs.clear()
        return out[0], out[1]
