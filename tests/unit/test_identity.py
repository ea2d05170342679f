"""The device's identity key: made once, kept private, printed for enrolment."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from spicebox import identity
from spicebox.cli import EXIT_USAGE, main
from spicebox.config.target import ConfigError


def test_the_key_is_made_once_and_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "state" / "identity.key"
    first = identity.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = identity.create(path)  # a second first boot changes nothing
    assert identity.public_key(again) == identity.public_key(first)
    assert identity.public_key(first).startswith("ed25519:")
    assert len(identity.public_key(first)) == len("ed25519:") + 44


def test_the_command_prints_the_public_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "identity.key"
    assert main(["identity", "--key", str(path)]) == EXIT_USAGE  # none yet
    assert "run `spicebox identity --create`" in caplog.text
    assert main(["identity", "--create", "--key", str(path)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == identity.public_key(identity.load(path))
    path.write_text("not a key")
    with pytest.raises(ConfigError, match="cannot read the device key"):
        identity.load(path)
