"""Keys and the mouse, given to the client's window through the X server (XTEST, as a
user's keyboard would), reach the guest's kernel as the same evdev events."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from functools import partial

import pytest
from Xlib import X
from Xlib.ext import xtest

from spicebox import sdl_loader
from spicebox.spice.constants import KeyModifiers, MouseMode
from tests.guests import console
from tests.rig.guest_input import (
    BTN_LEFT,
    BTN_MIDDLE,
    BTN_RIGHT,
    EV_KEY,
    EV_REL,
    REL_X,
    REL_Y,
    Rig,
    booted,
)

# evdev codes: letters, digits, the extended block (E0 prefix), the ISO and Japanese
# keys, multimedia keys, function keys.
KEYS = [30, 48, 2, 11, 28, 14, 15, 57, 42, 29, 56, 97, 100, 96, 98, 102, 107, 103, 108,
        105, 106, 110, 111, 125, 127, 86, 89, 124, 88, 113, 115, 114, 1]


@pytest.fixture(scope="module")
def rig(console_guest: console.ConsoleGuest) -> Iterator[Rig]:
    with booted(console_guest, []) as booted_rig:
        yield booted_rig


def test_keys_reach_the_guest_as_the_same_evdev_codes(rig: Rig) -> None:
    got: list[tuple[int, int]] = []
    for code in KEYS:
        # One key at a time, as typed: the guest's event queue is short, and its shell
        # reads it slowly.
        xtest.fake_input(rig.x, X.KeyPress, code + 8)  # X keycodes are evdev + 8
        xtest.fake_input(rig.x, X.KeyRelease, code + 8)
        rig.x.sync()
        got += [(code, value) for _, _, code, value in rig.guest_events(2, kinds=(EV_KEY,))]
    assert got == [(code, value) for code in KEYS for value in (1, 0)]


def test_ctrl_alt_end_gives_the_guest_ctrl_alt_del(rig: Rig) -> None:
    ctrl, alt, end, delete = 29, 56, 107, 111
    for code, down in ((ctrl, True), (alt, True), (end, True), (end, False), (alt, False),
                       (ctrl, False)):
        xtest.fake_input(rig.x, X.KeyPress if down else X.KeyRelease, code + 8)
    rig.x.sync()
    got = [(code, value) for _, _, code, value in rig.guest_events(6, kinds=(EV_KEY,))]
    assert got == [(ctrl, 1), (alt, 1), (delete, 1), (delete, 0), (alt, 0), (ctrl, 0)]


def test_relative_motion_and_buttons_reach_the_guest_mouse(rig: Rig) -> None:
    # No tablet and no agent: the server offers only server (relative) mouse mode.
    assert rig.client.session.mouse_mode == MouseMode.SERVER
    # The first click takes the pointer (held in the window, reporting relative motion)
    # and goes no further; a second, middle one marks where this test's events begin.
    take_the_pointer(rig)
    xtest.fake_input(rig.x, X.ButtonPress, 2)
    xtest.fake_input(rig.x, X.ButtonRelease, 2)
    rig.x.sync()
    while rig.guest_events(1, kinds=(EV_KEY,))[0][2:] != (BTN_MIDDLE, 0):
        pass
    for dx, dy in ((30, 0), (0, 20), (-10, -5)):
        xtest.fake_input(rig.x, X.MotionNotify, True, x=dx, y=dy)
        rig.x.sync()
        time.sleep(0.05)
    xtest.fake_input(rig.x, X.ButtonPress, 1)
    xtest.fake_input(rig.x, X.ButtonRelease, 1)
    xtest.fake_input(rig.x, X.ButtonPress, 3)
    xtest.fake_input(rig.x, X.ButtonRelease, 3)
    rig.x.sync()
    moved = {REL_X: 0, REL_Y: 0}
    buttons: list[tuple[int, int]] = []
    deadline = time.monotonic() + 30
    while moved != {REL_X: 20, REL_Y: 15} or len(buttons) < 4:
        for _, kind, code, value in rig.guest_events(1, max(0.1, deadline - time.monotonic())):
            if kind == EV_REL and code in moved:
                moved[code] += value
            elif kind == EV_KEY:
                buttons.append((code, value))
    assert buttons == [(BTN_LEFT, 1), (BTN_LEFT, 0), (BTN_RIGHT, 1), (BTN_RIGHT, 0)]


def take_the_pointer(rig: Rig) -> None:
    """Click into the window in server mouse mode: the client captures the pointer, and
    the click never reaches the guest."""
    if rig.client.in_loop(lambda: rig.client.session.pointer_captured):
        return
    xtest.fake_input(rig.x, X.ButtonPress, 1)
    xtest.fake_input(rig.x, X.ButtonRelease, 1)
    rig.x.sync()
    deadline = time.monotonic() + 10
    while not rig.client.in_loop(lambda: rig.client.session.pointer_captured):
        assert time.monotonic() < deadline, "a click in server mouse mode took no pointer"
        time.sleep(0.05)
    assert rig.client.in_loop(sdl_loader.pygame().mouse.get_relative_mode)
    with contextlib.suppress(TimeoutError):
        left = rig.guest_events(1, timeout=1, kinds=(EV_KEY,))
        raise AssertionError(f"the capturing click reached the guest: {left}")


def test_the_release_hotkey_gives_the_pointer_back(rig: Rig) -> None:
    take_the_pointer(rig)
    shift, f12 = 42, 88
    for code, down in ((shift, True), (f12, True), (f12, False), (shift, False)):
        xtest.fake_input(rig.x, X.KeyPress if down else X.KeyRelease, code + 8)
    rig.x.sync()
    deadline = time.monotonic() + 10
    while rig.client.in_loop(lambda: rig.client.session.pointer_captured):
        assert time.monotonic() < deadline, "Shift+F12 did not release the pointer"
        time.sleep(0.05)
    assert not rig.client.in_loop(sdl_loader.pygame().mouse.get_relative_mode)
    # Shift went to the guest as it was pressed (it could have been typing); F12 did not.
    got = [(code, value) for _, _, code, value in rig.guest_events(2, kinds=(EV_KEY,))]
    assert got == [(shift, 1), (shift, 0)]


def test_lock_keys_follow_both_ways(rig: Rig) -> None:
    inputs = rig.client.session.inputs
    assert inputs is not None
    caps_lock = 58
    # Client -> guest: the server presses Caps Lock for the guest until its LED agrees...
    rig.client.in_loop(partial(inputs.set_locks, inputs.guest_locks | KeyModifiers.CAPS_LOCK))
    got = [(code, value) for _, _, code, value in rig.guest_events(2, kinds=(EV_KEY,))]
    assert got == [(caps_lock, 1), (caps_lock, 0)]
    # ...and guest -> client: the guest's LED change comes back as KEY_MODIFIERS.
    deadline = time.monotonic() + 30
    while KeyModifiers.CAPS_LOCK not in inputs.guest_locks:
        assert time.monotonic() < deadline, f"the guest's locks stayed {inputs.guest_locks!r}"
        time.sleep(0.1)


def test_the_setup_hotkey_ends_the_session_and_keeps_its_key(rig: Rig) -> None:
    # Last in this module: it ends the session the others use.
    ctrl, alt, shift, s = 29, 56, 42, 31
    for code, down in ((ctrl, True), (alt, True), (shift, True), (s, True), (s, False),
                       (shift, False), (alt, False), (ctrl, False)):
        xtest.fake_input(rig.x, X.KeyPress if down else X.KeyRelease, code + 8)
    rig.x.sync()
    assert rig.client.wait_done(10) is None
    assert rig.client.session.setup_requested
    got = [(code, value) for _, _, code, value in rig.guest_events(3, kinds=(EV_KEY,))]
    assert got == [(ctrl, 1), (alt, 1), (shift, 1)]
    # Whatever else reached the guest before the session closed (the modifiers going up,
    # if they were read in time), S was not part of it.
    with contextlib.suppress(TimeoutError):
        got += [(code, value) for _, _, code, value in
                rig.guest_events(3, timeout=3, kinds=(EV_KEY,))]
    assert all(code != s for code, _ in got), got
