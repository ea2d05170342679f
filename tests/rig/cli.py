"""The ``spicebox`` command as an administrator runs it, in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .client import assert_png_shows_bios
from .qemu import RGB

COMMAND = [sys.executable, "-m", "spicebox"]


def spicebox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=120,
                          check=False, env=os.environ)


def kiosk_args(config_dir: Path, png: Path) -> list[str]:
    """`spicebox run` headless, saving what it shows after 2 s and ending after 3."""
    return ["run", "--config-dir", str(config_dir), "--backend", "headless", "--screenshot",
            str(png), "--screenshot-after", "2", "--exit-after", "3"]


def assert_kiosk_shows_bios(config_dir: Path, png: Path,
                            screendump: Callable[[], RGB]) -> subprocess.CompletedProcess[str]:
    """Run the kiosk on ``config_dir``: it must connect and show SeaBIOS's screen, as
    QEMU's screendump (``screendump()``, called once the kiosk is done) has it."""
    done = spicebox(*kiosk_args(config_dir, png))
    assert done.returncode == 0, done.stderr
    assert_png_shows_bios(png, screendump())
    return done
