"""Client mouse mode: with an absolute pointer in the guest (QEMU's usb-tablet), the guest
pointer lands exactly where the local one is. (A module of its own: the x11 presenter is
one per process, so this boot must not overlap the relative-mouse tests' one.)"""

from __future__ import annotations

import time

from spicebox.spice.constants import MouseMode
from tests.guests import console
from tests.rig.guest_input import ABS_MAX, ABS_X, ABS_Y, EV_ABS, booted


def test_client_mouse_mode_puts_the_guest_pointer_under_the_local_one(
        console_guest: console.ConsoleGuest) -> None:
    # An absolute pointer in the guest lets the server offer client mode; the client
    # takes it and sends positions.
    with booted(console_guest, ["-usb", "-device", "usb-tablet"]) as tablet:
        tablet.wait_for_device("Tablet")  # USB enumerates after boot
        deadline = time.monotonic() + 30
        while tablet.client.session.mouse_mode != MouseMode.CLIENT:
            assert time.monotonic() < deadline, "the client never got client mouse mode"
            time.sleep(0.1)
        width, height = console.WIDTH, console.HEIGHT
        for x, y in ((100, 50), (1000, 700), (512, 384)):
            tablet.point_at(x, y)

            at = {ABS_X: -1, ABS_Y: -1}
            # QEMU scales positions to 0..0x7FFF over the screen's width and height.
            expected = {ABS_X: x * ABS_MAX // width, ABS_Y: y * ABS_MAX // height}
            deadline = time.monotonic() + 30
            while at != expected:
                for _, kind, code, value in tablet.guest_events(
                        1, max(0.1, deadline - time.monotonic())):
                    if kind == EV_ABS and code in at:
                        at[code] = value
