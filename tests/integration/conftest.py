"""Fixtures for tests against a real QEMU SPICE server."""

from __future__ import annotations

import pytest

from tests.guests import console, desktop
from tests.rig.qemu import qemu_available


@pytest.fixture(autouse=True)
def _need_qemu() -> None:
    if not qemu_available():
        pytest.fail("qemu-system-x86_64 is not installed: run `make test`, which installs it")


@pytest.fixture(scope="session")
def console_guest() -> console.ConsoleGuest:
    return console.build(console.default_cache_dir())


@pytest.fixture(scope="session")
def desktop_guest() -> desktop.DesktopGuest:
    # Minutes the first time (mmdebstrap), then a cache lookup.
    return desktop.build(console.default_cache_dir())
