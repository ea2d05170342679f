"""Keys become the scancodes keycodemapdb gives; the pointer follows spice-gtk's flow
control; lock keys and focus loss behave as a user expects."""

from __future__ import annotations

import pytest

from spicebox.input.keymap import LINUX_TO_SET1, USB_TO_LINUX
from spicebox.input.scancodes import linux_from_sdl, set1_bytes, spice_key_code
from spicebox.spice import messages as m
from spicebox.spice.constants import InputsCap, KeyModifiers, MouseButton
from spicebox.spice.events import GuestLocks
from spicebox.spice.inputs import InputsChannel

from .server_bytes import frame, link_reply, link_result, sent

# evdev codes (linux/input-event-codes.h) and the set-1 bytes a PC keyboard sends.
KNOWN = [
    (1, "01"),         # Esc
    (30, "1e"),        # A
    (29, "1d"),        # left Ctrl
    (97, "e01d"),      # right Ctrl
    (56, "38"),        # left Alt
    (100, "e038"),     # AltGr
    (96, "e01c"),      # keypad Enter
    (98, "e035"),      # keypad /
    (102, "e047"),     # Home
    (103, "e048"),     # Up
    (111, "e053"),     # Delete
    (125, "e05b"),     # left Meta
    (127, "e05d"),     # Compose (menu)
    (86, "56"),        # the ISO key left of Z
    (89, "73"),        # Ro (Japanese)
    (124, "7d"),       # Yen
    (92, "79"),        # Henkan
    (87, "57"),        # F11
    (88, "58"),        # F12
    (183, "5d"),       # F13
    (99, "54"),        # SysRq/PrintScreen: what keycodemapdb and QEMU agree on
    (119, "e046"),     # Pause: QEMU's PS/2 turns it into E1 1D 45 E1 9D C5
    (113, "e020"),     # Mute
    (115, "e030"),     # Volume up
    (164, "e022"),     # Play/Pause
    (116, "e05e"),     # Power
]


@pytest.mark.parametrize(("code", "make"), KNOWN)
def test_keys_make_and_break(code: int, make: str) -> None:
    down = bytes.fromhex(make)
    assert set1_bytes(code, True) == down
    up = set1_bytes(code, False)
    assert up[:-1] == down[:-1] and up[-1] == down[-1] | 0x80
    # KEY_DOWN/KEY_UP pack the same bytes little-endian into their u32.
    assert spice_key_code(code, True).to_bytes(4, "little").rstrip(b"\0") == down


def test_table_covers_the_keyboard() -> None:
    # Every key of a 105-key keyboard and its multimedia/Japanese/Korean extras:
    # evdev 1..88 (84 is unused) and the block 96..127.
    missing = [c for c in [*range(1, 84), *range(85, 89), *range(96, 128)]
               if c not in LINUX_TO_SET1]
    assert missing == []
    # Two evdev codes sending the same bytes would be indistinguishable to the guest.
    codes = [v for k, v in LINUX_TO_SET1.items() if k != 84]
    assert len(codes) == len(set(codes))


def test_hangeul_and_hanja_have_no_break_code() -> None:
    assert set1_bytes(122, True) == b"\xf2"
    assert set1_bytes(122, False) == b""


def test_sdl_scancodes() -> None:
    assert linux_from_sdl(4) == 30  # SDL_SCANCODE_A -> KEY_A
    assert linux_from_sdl(224) == 29  # LCTRL
    assert linux_from_sdl(230) == 100  # RALT
    assert linux_from_sdl(258) == 163  # AUDIONEXT
    assert linux_from_sdl(999) is None
    assert all(0 < code < 0x300 for code in USB_TO_LINUX.values())


def linked() -> InputsChannel:
    channel = InputsChannel(0, 1, "pw")
    channel.initiate()
    channel.receive_data(link_reply(channel=(InputsCap.KEY_SCANCODE,)))
    channel.receive_data(link_result())
    channel.data_to_send()
    return channel


def test_keys_and_focus_loss() -> None:
    channel = linked()
    assert channel.key(97, True) and channel.key(30, True)
    assert channel.key(30, False)
    assert sent(channel) == [m.KeyDown(0x1DE0), m.KeyDown(0x1E), m.KeyUp(0x9E)]
    # A release whose press the guest never saw (a hotkey, or before the session) is
    # not passed on; losing focus releases what is still held.
    assert channel.key(56, False)
    channel.release_all()
    assert sent(channel) == [m.KeyUp(0x9DE0)]
    assert not channel.key(0x2FF, True)  # no scancode: reported, nothing sent
    assert sent(channel) == []


def test_a_tap_is_one_key_scancode_message_when_the_server_takes_them() -> None:
    channel = linked()  # the server announced KEY_SCANCODE
    channel.tap(111)  # Delete
    assert sent(channel) == [m.KeyScancode(memoryview(b"\xe0\x53\xe0\xd3"))]
    plain = InputsChannel(0, 1, "pw")
    plain.initiate()
    plain.receive_data(link_reply())
    plain.receive_data(link_result())
    plain.data_to_send()
    plain.tap(111)
    assert sent(plain) == [m.KeyDown(0x53E0), m.KeyUp(0xD3E0)]


def test_lock_keys_both_ways() -> None:
    channel = linked()
    events = channel.receive_data(frame(m.InputsInit(int(KeyModifiers.NUM_LOCK))))
    assert events == [GuestLocks(KeyModifiers.NUM_LOCK)]
    channel.set_locks(KeyModifiers.NUM_LOCK)  # already so: nothing to send
    channel.set_locks(KeyModifiers.NUM_LOCK | KeyModifiers.CAPS_LOCK)
    assert sent(channel) == [m.SetKeyModifiers(6)]
    events = channel.receive_data(frame(m.InputsKeyModifiers(4)))
    assert events == [GuestLocks(KeyModifiers.CAPS_LOCK)]


def test_motion_is_merged_while_eight_are_unacknowledged() -> None:
    channel = linked()
    for _ in range(8):
        channel.motion(1, 2)
    assert sent(channel) == [m.MouseMotion(1, 2, 0)] * 8
    for _ in range(5):
        channel.motion(3, -1)  # over the limit: merged, held back
    assert sent(channel) == []
    channel.receive_data(frame(m.MouseMotionAck()))
    assert sent(channel) == [m.MouseMotion(15, -5, 0)]


def test_positions_keep_only_the_latest_and_buttons_flush_first() -> None:
    channel = linked()
    for i in range(12):
        channel.position(i, 2 * i, 0)
    assert len(sent(channel)) == 8  # the last four wait for an acknowledgement
    # A click must land where the pointer is now, whatever the flow control says.
    channel.button(MouseButton.LEFT, True)
    assert sent(channel) == [m.MousePosition(11, 22, 0, 0), m.MousePress(1, 1)]
    channel.button(MouseButton.UP, True)  # the wheel does not stick in the mask
    channel.button(MouseButton.UP, False)
    channel.button(MouseButton.LEFT, False)
    assert sent(channel) == [m.MousePress(4, 1), m.MouseRelease(4, 1), m.MouseRelease(1, 0)]


def test_nothing_is_sent_before_the_link() -> None:
    channel = InputsChannel(0, 1, "pw")
    channel.initiate()
    assert channel.key(30, True)
    channel.motion(1, 1)
    channel.button(MouseButton.LEFT, True)
    assert channel.data_to_send() == b""
