"""Fixtures for tests against a real QEMU SPICE server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.guests import console
from tests.rig.qemu import qemu_available


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("SPICEBOX_CACHE", Path(base) / "spicebox"))


@pytest.fixture(autouse=True)
def _need_qemu() -> None:
    if not qemu_available():
        pytest.fail("qemu-system-x86_64 is not installed: run `make test`, which installs it")


@pytest.fixture(scope="session")
def console_guest() -> console.ConsoleGuest:
    return console.build(cache_dir() / "guests")
