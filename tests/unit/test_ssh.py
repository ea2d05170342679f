"""SSH through provisioning: which keys count as OpenSSH public keys, and what turning
SSH on and off does (systemctl faked; the image test runs the real sshd)."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from spicebox.config.settings import System, fields_of, parse_value
from spicebox.config.target import ConfigError
from spicebox.provisioning.ssh import apply


def key(kind: str = "ssh-ed25519", comment: str = "admin@desk") -> str:
    blob = len(kind).to_bytes(4, "big") + kind.encode() + bytes(36)
    return f"{kind} {base64.b64encode(blob).decode()} {comment}"


def ssh_keys(value: object) -> tuple[str, ...]:
    return parse_value(fields_of(System)["ssh-keys"], value, "system.ssh-keys")  # type: ignore[no-any-return]


def test_public_keys_come_as_a_list_or_one_per_line() -> None:
    two = (key(), key("ecdsa-sha2-nistp256", "ops"))
    assert ssh_keys(list(two)) == two
    assert ssh_keys("\n".join(two) + "\n\n") == two
    assert ssh_keys(f"  {key()}   ") == (key(),)  # spacing as pasted
    assert ssh_keys([]) == () == System().ssh_keys


@pytest.mark.parametrize("bad", [
    "ssh-ed25519",                                   # no key
    "ssh-dss AAAAB3NzaC1kc3MAAAA= old",              # not a type sshd takes
    "ssh-ed25519 not*base64 x",
    key().replace("ssh-ed25519", "ssh-rsa", 1),      # data of another type
    "-----BEGIN OPENSSH PRIVATE KEY-----",           # the wrong half
])
def test_anything_but_a_public_key_is_refused_in_one_line(bad: str) -> None:
    with pytest.raises(ConfigError, match="is not an OpenSSH public key"):
        ssh_keys([key(), bad])


def test_keys_turn_ssh_on_and_none_turn_it_off(tmp_path: Path) -> None:
    calls: list[tuple[str, ...]] = []
    keys_file = tmp_path / "authorized_keys" / "root"
    said = apply((key(), key(comment="ops")), keys_file, lambda *args: calls.append(args))
    assert said == "SSH is on: 2 keys may log in as root"
    assert keys_file.read_text() == f"{key()}\n{key(comment='ops')}\n"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert calls == [("enable", "--now", "ssh.service")]
    said = apply((), keys_file, lambda *args: calls.append(args))
    assert said == "SSH is off: the site gives this box no key"
    assert not keys_file.exists()
    assert calls[-1] == ("disable", "--now", "ssh.service")
