"""`spicebox diag input` in words a support call can use."""

from __future__ import annotations

from pathlib import Path

import pytest

from spicebox.cli import main
from spicebox.input.diag import describe_devices, key_line


def test_key_lines() -> None:
    assert key_line(30, True) == "KEY_A (30) down -> 1e"
    assert key_line(97, False) == "KEY_RIGHTCTRL (97) up -> e0 9d"
    assert key_line(0x2FF, True).endswith("(nothing: no PC scancode)")


def test_unreadable_and_absent_devices(tmp_path: Path) -> None:
    assert describe_devices(tmp_path) == [f"no input devices in {tmp_path}"]
    node = tmp_path / "event3"
    node.write_bytes(b"")  # not an input device: the ioctl fails
    [line] = describe_devices(tmp_path)
    assert line.startswith(f"{node}: cannot open")


def test_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diag", "input"]) == 0
    assert capsys.readouterr().out.strip()
