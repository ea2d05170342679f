"""Hotkeys keep their key from the guest, whatever side the modifiers are on."""

from __future__ import annotations

import pytest

from spicebox.input.events import Key
from spicebox.input.hotkeys import Hotkey, HotkeyError, Hotkeys

CTRL, RCTRL, ALT, SHIFT, END, S, F = 29, 97, 56, 42, 107, 31, 33


def type_keys(hotkeys: Hotkeys, *keys: tuple[int, bool]) -> tuple[list[Key], list[str]]:
    passed, actions = [], []
    for code, pressed in keys:
        out, action = hotkeys.feed(Key(code, pressed))
        passed += out
        if action:
            actions.append(action)
    return passed, actions


def test_ctrl_alt_end_is_the_ctrl_alt_del_action() -> None:
    passed, actions = type_keys(Hotkeys(), (RCTRL, True), (ALT, True), (END, True),
                                (END, False), (ALT, False), (RCTRL, False))
    assert actions == ["ctrl-alt-del"]  # the session taps Delete
    assert passed == [Key(RCTRL, True), Key(ALT, True), Key(ALT, False), Key(RCTRL, False)]


def test_setup_hotkey_is_an_action_and_its_key_never_reaches_the_guest() -> None:
    passed, actions = type_keys(Hotkeys(), (CTRL, True), (ALT, True), (SHIFT, True),
                                (S, True), (S, False))
    assert actions == ["setup"]
    assert Key(S, True) not in passed and Key(S, False) not in passed


def test_other_combinations_pass() -> None:
    passed, actions = type_keys(Hotkeys(), (CTRL, True), (END, True), (END, False))
    assert actions == [] and passed[-2:] == [Key(END, True), Key(END, False)]
    # With one modifier too many it is not the hotkey either.
    passed, actions = type_keys(Hotkeys(), (CTRL, True), (ALT, True), (SHIFT, True),
                                (END, True))
    assert actions == [] and passed[-1] == Key(END, True)


def test_bindings_are_configurable_and_checked() -> None:
    assert Hotkey.parse("Ctrl+Shift+F12").key == 88
    _, actions = type_keys(Hotkeys({"fullscreen": "shift+f"}), (SHIFT, True), (F, True))
    assert actions == ["fullscreen"]
    with pytest.raises(HotkeyError, match="unknown key"):
        Hotkey.parse("ctrl+alt+nokey")
    with pytest.raises(HotkeyError, match="modifiers"):
        Hotkey.parse("end")
