"""USB filters: the syntax and the matching rules of usbredir's usbredirfilter.c, which
spice-gtk and remote-viewer use, and the redirect decisions built on them."""

from __future__ import annotations

import pytest

from spicebox.config.target import ConfigError
from spicebox.usb.filter import (
    ANY,
    Rule,
    UsbDevice,
    UsbInterface,
    auto_redirects,
    check,
    decide,
    parse,
    to_string,
)

STICK = UsbDevice(0x00, 0x0781, 0x5567, 0x0100, (UsbInterface(0x08, 0x06, 0x50),))
KEYBOARD = UsbDevice(0x00, 0x046D, 0xC31C, 0x6400, (UsbInterface(0x03, 0x01, 0x01),
                                                    UsbInterface(0x03, 0x00, 0x00)))
HEADSET = UsbDevice(0x00, 0x1B1C, 0x0A51, 0x0100, (
    UsbInterface(0x01, 0x01, 0x00), UsbInterface(0x01, 0x02, 0x00),
    UsbInterface(0x03, 0x00, 0x00)))  # volume buttons: non-boot HID
PAD = UsbDevice(0x00, 0x056A, 0x00A8, 0x0100, (UsbInterface(0x03, 0x00, 0x00),))
HUB = UsbDevice(0x09, 0x05E3, 0x0608, 0x6060, (UsbInterface(0x09, 0x00, 0x00),))
PRINTER = UsbDevice(0xEF, 0x04B8, 0x0005, 0x0100, (UsbInterface(0x07, 0x01, 0x02),))


def test_rules_in_c_integer_syntax() -> None:
    assert parse("0x08,-1,-1,-1,1| 3,0x046d,0xc31c,010,0 |") == (
        Rule(8, ANY, ANY, ANY, True), Rule(3, 0x046D, 0xC31C, 8, False))
    assert to_string(parse("8,1133,-1,-1,1|-1,-1,-1,-1,0")) == (
        "0x08,0x046d,-1,-1,1|-1,-1,-1,-1,0")
    assert parse("") == ()


@pytest.mark.parametrize(("text", "message"), [
    ("0x08,-1,-1,1", r"rule 1 \('0x08,-1,-1,1'\) is not class,vendor,product,version,allow"),
    ("-1,-1,-1,-1,1|usb,-1,-1,-1,1", "rule 2"),
    ("0x100,-1,-1,-1,1", "rule 1 has class 256, outside -1 to 0xff"),
    ("-1,0x10000,-1,-1,1", "has vendor 65536"),
    ("-2,-1,-1,-1,1", "has class -2"),
])
def test_broken_rules_say_which_and_why(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(text, "usb.redirect-filter")


def test_the_first_matching_rule_decides_by_device_and_interface_class() -> None:
    no_storage = parse("0x08,-1,-1,-1,0|-1,-1,-1,-1,1")
    assert check(no_storage, STICK) == (False, Rule(8, allow=False))
    assert check(no_storage, HEADSET) == (True, Rule())
    only_this_stick = parse("-1,0x0781,0x5567,-1,1")
    assert check(only_this_stick, STICK) == (True, Rule(ANY, 0x0781, 0x5567, ANY, True))
    assert check(only_this_stick, HEADSET) == (False, None)  # no rule: not allowed
    assert check(only_this_stick, HEADSET, default_allow=True) == (True, None)


def test_every_interface_must_pass_but_extra_non_boot_hid_is_skipped() -> None:
    no_hid = parse("0x03,-1,-1,-1,0|-1,-1,-1,-1,1")
    assert check(no_hid, HEADSET)[0]  # its HID buttons do not count
    assert not check(no_hid, KEYBOARD)[0]  # a boot keyboard interface does
    assert not check(no_hid, PAD)[0]  # HID is all a signature pad has: it counts


def test_device_class_0xef_is_decided_by_the_interfaces() -> None:
    assert check(parse("0xef,-1,-1,-1,0|-1,-1,-1,-1,1"), PRINTER)[0]
    assert not check(parse("0x07,-1,-1,-1,0|-1,-1,-1,-1,1"), PRINTER)[0]
    assert not check(parse("0x09,-1,-1,-1,0|-1,-1,-1,-1,1"), HUB)[0]  # its own class


def test_what_may_be_redirected_and_why_not() -> None:
    everything = parse("-1,-1,-1,-1,1")
    assert decide(STICK, everything) == (True, "redirectable")
    assert decide(HUB, everything) == (False, "a hub cannot be redirected")
    assert decide(STICK, parse("0x08,-1,-1,-1,0|-1,-1,-1,-1,1")) == (
        False, "the redirect filter's rule 0x08,-1,-1,-1,0 blocks it")
    assert decide(STICK, parse("0x03,-1,-1,-1,1")) == (
        False, "no rule of the redirect filter allows it")
    assert decide(STICK, everything, server=parse("0x08,-1,-1,-1,0")) == (
        False, "the server's filter (rule 0x08,-1,-1,-1,0) refuses it")
    assert decide(HEADSET, everything, server=parse("0x08,-1,-1,-1,0"))[0]


def test_keyboards_and_mice_stay_with_the_box() -> None:
    everything = parse("-1,-1,-1,-1,1")
    assert not auto_redirects(KEYBOARD, everything)
    assert auto_redirects(STICK, everything) and auto_redirects(PAD, everything)
    assert not auto_redirects(STICK, parse("0x08,-1,-1,-1,0|-1,-1,-1,-1,1"))
