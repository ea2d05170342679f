"""USB filters in the syntax of spice-gtk, remote-viewer and usbredir: rules
``class,vendor,product,version,allow`` separated by ``|``, where -1 means any and numbers
are C integers (``0x08``, ``8``, ``010``). The first rule that matches decides.

A device is checked the way usbredirfilter_check does it: its own class (unless it is 0
or 0xef, "see the interfaces"), then each interface's class, all of which must pass. Of a
device with several interfaces, the non-boot HID ones (class 3, subclass 0, protocol 0:
the extra buttons of a headset, say) are skipped, unless they are all it has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config.target import ConfigError

ANY = -1
HID, HUB = 0x03, 0x09
_DEFER_TO_INTERFACES = (0x00, 0xEF)
_C_INT = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_LIMITS = (("class", 0xFF), ("vendor", 0xFFFF), ("product", 0xFFFF), ("version", 0xFFFF))


@dataclass(frozen=True)
class Rule:
    device_class: int = ANY
    vendor_id: int = ANY
    product_id: int = ANY
    device_version_bcd: int = ANY
    allow: bool = True

    def matches(self, device_class: int, device: UsbDevice) -> bool:
        return all(want in (ANY, have) for want, have in (
            (self.device_class, device_class), (self.vendor_id, device.vendor_id),
            (self.product_id, device.product_id),
            (self.device_version_bcd, device.device_version_bcd)))

    def __str__(self) -> str:
        parts = [f"{value:#0{width}x}" if value != ANY else "-1" for value, width in (
            (self.device_class, 4), (self.vendor_id, 6), (self.product_id, 6),
            (self.device_version_bcd, 6))]
        return ",".join([*parts, "1" if self.allow else "0"])


@dataclass(frozen=True)
class UsbInterface:
    interface_class: int
    subclass: int
    protocol: int


@dataclass(frozen=True)
class UsbDevice:
    """What a filter looks at: the device descriptor's class and ids, and the classes of
    the active configuration's interfaces."""

    device_class: int
    vendor_id: int
    product_id: int
    device_version_bcd: int
    interfaces: tuple[UsbInterface, ...] = ()

    @property
    def is_hub(self) -> bool:
        return self.device_class == HUB

    @property
    def is_keyboard_or_mouse(self) -> bool:
        """A HID boot keyboard or mouse: the box's own input, which stays with it."""
        return any(i.interface_class == HID and i.subclass == 1 and i.protocol in (1, 2)
                   for i in self.interfaces)


def parse(text: str, what: str = "USB filter") -> tuple[Rule, ...]:
    rules = []
    for number, rule in enumerate((r for r in text.split("|") if r.strip()), start=1):
        tokens = [t.strip() for t in rule.split(",") if t.strip()]
        if len(tokens) != 5 or not all(_C_INT.fullmatch(t) for t in tokens):
            raise ConfigError(f"{what}: rule {number} ({rule!r}) is not class,vendor,"
                              f"product,version,allow (numbers, -1 for any)")
        values = [_c_int(t) for t in tokens]
        for (name, limit), value in zip(_LIMITS, values, strict=False):
            if not ANY <= value <= limit:
                raise ConfigError(f"{what}: rule {number} has {name} {value}, outside -1 "
                                  f"to {limit:#x}")
        device_class, vendor, product, version, allow = values
        rules.append(Rule(device_class, vendor, product, version, allow != 0))
    return tuple(rules)


def to_string(rules: tuple[Rule, ...]) -> str:
    return "|".join(str(rule) for rule in rules)


def _c_int(token: str) -> int:
    negative = token.startswith("-")
    digits = token.lstrip("-")
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    elif digits.startswith("0") and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if negative else value


def check(rules: tuple[Rule, ...], device: UsbDevice,
          default_allow: bool = False) -> tuple[bool, Rule | None]:
    """Whether ``device`` passes, and the rule that decided (None: no rule matched, so
    ``default_allow`` did)."""
    return _check(rules, device, default_allow, skip_non_boot_hid=True)


def _check(rules: tuple[Rule, ...], device: UsbDevice, default_allow: bool,
           skip_non_boot_hid: bool) -> tuple[bool, Rule | None]:
    decided: Rule | None = None
    if device.device_class not in _DEFER_TO_INTERFACES:
        allowed, decided = _first(rules, device.device_class, device, default_allow)
        if not allowed:
            return False, decided
    skipped = 0
    for interface in device.interfaces:
        if (skip_non_boot_hid and len(device.interfaces) > 1
                and (interface.interface_class, interface.subclass, interface.protocol)
                == (HID, 0, 0)):
            skipped += 1
            continue
        allowed, rule = _first(rules, interface.interface_class, device, default_allow)
        if not allowed:
            return False, rule
        decided = decided or rule
    if device.interfaces and skipped == len(device.interfaces):
        return _check(rules, device, default_allow, skip_non_boot_hid=False)
    return True, decided


def _first(rules: tuple[Rule, ...], device_class: int, device: UsbDevice,
           default_allow: bool) -> tuple[bool, Rule | None]:
    for rule in rules:
        if rule.matches(device_class, device):
            return rule.allow, rule
    return default_allow, None


# What the configuration starts with: anything may be redirected, and anything is when it
# is plugged in, but for what decide() always keeps local.
DEFAULT_REDIRECT = "-1,-1,-1,-1,1"
DEFAULT_AUTO_REDIRECT = "-1,-1,-1,-1,1"


def decide(device: UsbDevice, redirect: tuple[Rule, ...],
           server: tuple[Rule, ...] | None = None) -> tuple[bool, str]:
    """Whether ``device`` may be redirected, and why not: a hub never (usbredir cannot
    carry one), else the redirect filter, then the server's (from its filter_filter;
    what it does not mention it takes)."""
    if device.is_hub:
        return False, "a hub cannot be redirected"
    allowed, rule = check(redirect, device)
    if not allowed:
        return False, (f"the redirect filter's rule {rule} blocks it" if rule
                       else "no rule of the redirect filter allows it")
    if server is not None:
        allowed, rule = check(server, device, default_allow=True)
        if not allowed:
            return False, f"the server's filter (rule {rule}) refuses it"
    return True, "redirectable"


def auto_redirects(device: UsbDevice, auto: tuple[Rule, ...]) -> bool:
    """Whether plugging ``device`` in redirects it at once. Keyboards and mice never are:
    they are how the user works the box itself."""
    return not device.is_keyboard_or_mouse and check(auto, device)[0]
