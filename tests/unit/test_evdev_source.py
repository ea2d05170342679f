"""The device side of evdev input, as far as it runs without input devices: hotplug
through inotify, and the capabilities python-evdev reports."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from spicebox.input.evdev_source import EvdevInput, capabilities_of


class _AbsInfo:
    def __init__(self, low: int, high: int) -> None:
        self.min, self.max = low, high


class _Device:
    """What python-evdev's InputDevice.capabilities(absinfo=True) gives for a touch screen."""

    def capabilities(self, absinfo: bool) -> dict[int, list[object]]:
        assert absinfo, "the ranges of the absolute axes are needed"
        return {1: [272, 273, 330], 3: [(0, _AbsInfo(0, 4095)), (1, _AbsInfo(10, 2000))]}


def test_capabilities_from_python_evdev() -> None:
    caps = capabilities_of(_Device())
    assert caps.kind == "touch"
    assert caps.abs_ranges == {0: (0, 4095), 1: (10, 2000)}


def test_nodes_created_later_are_opened(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(EvdevInput, "_open", lambda self, path: opened.append(path.name))

    async def scenario() -> None:
        source = EvdevInput(tmp_path)
        (tmp_path / "event0").touch()
        source.start(lambda event: None)
        assert opened == ["event0"]
        (tmp_path / "event7").touch()  # plugged in
        (tmp_path / "mouse0").touch()  # not an event node
        (tmp_path / "event7").chmod(0o660)  # udev's permissions, a moment later
        for _ in range(50):
            await asyncio.sleep(0.01)
            if len(opened) >= 3:
                break
        source.close()

    asyncio.run(scenario())
    # IN_CREATE, then IN_ATTRIB: asked twice (the real _open skips a device it has).
    assert opened == ["event0", "event7", "event7"]
