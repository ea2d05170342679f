"""What the Network page makes of access points and what it accepts before asking
NetworkManager (the D-Bus calls themselves are tested against dbusmock)."""

from __future__ import annotations

import ipaddress

import pytest

from spicebox.config.settings import check_psk
from spicebox.system.network import (
    ENTERPRISE,
    OPEN,
    SAE,
    WEP,
    WPA_PSK,
    Network,
    StaticIpv4,
    _security,
)


@pytest.mark.parametrize(("flags", "wpa", "rsn", "kind"), [
    (0, 0, 0, OPEN), (1, 0, 0, WEP), (1, 0x100, 0, WPA_PSK), (1, 0, 0x100, WPA_PSK),
    (1, 0, 0x500, WPA_PSK),  # WPA2/WPA3 transition: WPA2's PSK works
    (1, 0, 0x400, SAE), (1, 0, 0x200, ENTERPRISE), (1, 0x200, 0, ENTERPRISE),
])
def test_security_from_the_access_points_flags(flags: int, wpa: int, rsn: int,
                                               kind: str) -> None:
    assert _security(flags, wpa, rsn) == kind


def test_what_cannot_be_joined_says_why() -> None:
    assert Network("/", b"old", 50, WEP).joinable == \
        "WEP is broken encryption and not supported: use WPA2 on the network"
    assert "802.1X" in str(Network("/", b"corp", 50, ENTERPRISE).joinable)
    assert Network("/", b"home", 50, SAE).joinable is None
    assert Network("/", b"caf\xe9", 50, OPEN).name == "caf\ufffd"  # shown; joined by bytes


@pytest.mark.parametrize("password", ["12345678", "x" * 63, "ab" * 32])
def test_passphrases_and_raw_keys(password: str) -> None:
    check_psk(password)


@pytest.mark.parametrize("password", ["1234567", "x" * 64, "g" * 64])
def test_bad_passwords(password: str) -> None:
    with pytest.raises(ValueError, match="8 to 63 characters"):
        check_psk(password)


def test_a_fixed_address_is_checked_as_typed() -> None:
    static = StaticIpv4.parse("10.1.2.3/16", "10.1.0.1", "10.1.0.1,  9.9.9.9")
    assert static.address == ipaddress.IPv4Interface("10.1.2.3/16")
    assert [str(a) for a in static.dns] == ["10.1.0.1", "9.9.9.9"]
    for args, words in ((("10.1.2.3", "", ""), "needs its prefix"),
                        (("10.1.2.3/33", "", ""), "with its prefix"),
                        (("10.1.2.3/24", "10.2.0.1", ""), "is not in 10.1.2.0/24"),
                        (("10.1.2.3/24", "", "dns.example"), "IPv4 addresses")):
        with pytest.raises(ValueError, match=words):
            StaticIpv4.parse(*args)
