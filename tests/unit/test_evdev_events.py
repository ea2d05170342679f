"""Keyboards, mice and touch screens, as the kernel reports them, become key, pointer and
button events the way a user expects."""

from __future__ import annotations

from spicebox.input.evdev_events import (
    ABS_MT_POSITION_X,
    ABS_MT_POSITION_Y,
    ABS_X,
    ABS_Y,
    BTN_TOUCH,
    EV_ABS,
    EV_KEY,
    EV_REL,
    EV_SYN,
    REL_WHEEL,
    REL_X,
    REL_Y,
    Capabilities,
    DeviceEvents,
    Pointer,
)
from spicebox.input.events import Button, Key, PointerMotion
from spicebox.spice.constants import MouseButton

KEYBOARD = Capabilities(keys=frozenset(range(1, 120)))
MOUSE = Capabilities(keys=frozenset({0x110, 0x111, 0x112}), rel=frozenset({0, 1, 8}))
TOUCH = Capabilities(keys=frozenset({BTN_TOUCH}),
                     abs_ranges={ABS_X: (0, 4095), ABS_Y: (0, 4095),
                                 ABS_MT_POSITION_X: (0, 4095), ABS_MT_POSITION_Y: (0, 4095)})
SYN = (EV_SYN, 0, 0)


def run(device: DeviceEvents, *events: tuple[int, int, int]) -> list[object]:
    return [out for event in events for out in device.feed(*event)]


def screen(width: int = 800, height: int = 480) -> Pointer:
    pointer = Pointer()
    pointer.bounds(width, height)
    return pointer


def test_device_kinds() -> None:
    assert KEYBOARD.kind == "keyboard"
    assert MOUSE.kind == "mouse"
    assert TOUCH.kind == "touch"
    # The power button and the lid switch stay the system's (logind powers off).
    assert Capabilities(keys=frozenset({116})).kind is None


def test_keys_without_autorepeat() -> None:
    keyboard = DeviceEvents(KEYBOARD, screen())
    got = run(keyboard, (EV_KEY, 30, 1), SYN, (EV_KEY, 30, 2), (EV_KEY, 30, 2), SYN,
              (EV_KEY, 30, 0), SYN)
    assert got == [Key(30, True), Key(30, False)]


def test_mouse_motion_is_reported_per_frame_and_clamped_to_the_screen() -> None:
    pointer = screen()
    mouse = DeviceEvents(MOUSE, pointer)
    assert run(mouse, (EV_REL, REL_X, 5), (EV_REL, REL_Y, 3), (EV_REL, REL_X, 2), SYN) == [
        PointerMotion(0, 7, 3, 7, 3)]
    # At the edge the local pointer stops; the relative motion still goes through.
    assert run(mouse, (EV_REL, REL_X, -50), SYN) == [PointerMotion(0, 0, 3, -50, 0)]
    assert run(mouse, (EV_KEY, 0x111, 1), (EV_KEY, 0x111, 0)) == [
        Button(MouseButton.RIGHT, True), Button(MouseButton.RIGHT, False)]
    assert run(mouse, (EV_REL, REL_WHEEL, -2)) == [
        Button(MouseButton.DOWN, True), Button(MouseButton.DOWN, False)] * 2


def test_a_tap_is_a_left_click_where_the_finger_is() -> None:
    touch = DeviceEvents(TOUCH, screen(800, 480))
    got = run(touch, (EV_KEY, BTN_TOUCH, 1), (EV_ABS, ABS_X, 4095), (EV_ABS, ABS_Y, 2048),
              (EV_ABS, ABS_MT_POSITION_X, 4095), (EV_ABS, ABS_MT_POSITION_Y, 2048), SYN)
    assert got == [PointerMotion(0, 799, 239, 799, 239), Button(MouseButton.LEFT, True)]
    assert run(touch, (EV_KEY, BTN_TOUCH, 0), SYN) == [Button(MouseButton.LEFT, False)]


def test_multitouch_only_screens_use_the_slot_position() -> None:
    touch = DeviceEvents(TOUCH, screen(1000, 1000))
    got = run(touch, (EV_ABS, ABS_MT_POSITION_X, 0), (EV_ABS, ABS_MT_POSITION_Y, 4095), SYN)
    assert got == [PointerMotion(0, 0, 999, 0, 999)]


def test_the_pointer_is_shared_by_every_device() -> None:
    pointer = screen()
    mouse, touch = DeviceEvents(MOUSE, pointer), DeviceEvents(TOUCH, pointer)
    run(touch, (EV_ABS, ABS_X, 2048), (EV_ABS, ABS_Y, 2048), SYN)
    assert run(mouse, (EV_REL, REL_Y, 10), SYN) == [PointerMotion(0, 399, 249, 0, 10)]
