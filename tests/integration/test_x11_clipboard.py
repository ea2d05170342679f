"""The x11 window's clipboard against a real X server, with xclip as the other window."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spicebox.display.sdl import SdlPresenter
from spicebox.display.x11clipboard import X11Clipboard
from spicebox.input.events import LocalClipboardChanged
from spicebox.spice.agent import ClipboardType
from tests.rig.xvfb import copy_elsewhere, paste_elsewhere, xvfb

# Not decoded on the way: any bytes stand for an image here.
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 1024  # past one X request: INCR


@pytest.fixture
def window(monkeypatch: pytest.MonkeyPatch) -> Iterator[SdlPresenter]:
    with xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        presenter = SdlPresenter("x11", "clipboard")
        try:
            yield presenter
        finally:
            presenter.close()


def clipboard_of(window: SdlPresenter) -> X11Clipboard:
    assert isinstance(window.clipboard, X11Clipboard)
    return window.clipboard


def wait_for_change(window: SdlPresenter) -> None:
    deadline = time.monotonic() + 10
    while not any(isinstance(e, LocalClipboardChanged) for e in window.events()):
        assert time.monotonic() < deadline, "no clipboard change reported"
        time.sleep(0.02)


def test_an_image_from_the_guest_can_be_pasted_in_other_windows(
        window: SdlPresenter) -> None:
    clipboard = clipboard_of(window)
    asyncio.run(clipboard.put(ClipboardType.IMAGE_PNG, IMAGE))
    wait_for_change(window)  # xclip took the selection...
    assert asyncio.run(clipboard.get()) is None  # ...with the guest's own copy
    assert paste_elsewhere(os.environ["DISPLAY"], "image/png", window.events) == IMAGE


def test_an_image_copied_in_another_window_is_offered(window: SdlPresenter) -> None:
    clipboard = clipboard_of(window)
    window.events()
    copy_elsewhere(os.environ["DISPLAY"], IMAGE, "image/png")
    wait_for_change(window)
    assert asyncio.run(clipboard.get()) == (ClipboardType.IMAGE_PNG, IMAGE)


def test_text_copied_in_another_window_is_offered(window: SdlPresenter) -> None:
    clipboard = clipboard_of(window)
    copy_elsewhere(os.environ["DISPLAY"], "d\u00e9j\u00e0 vu".encode())
    wait_for_change(window)
    assert asyncio.run(clipboard.get()) == (ClipboardType.UTF8_TEXT,
                                           "d\u00e9j\u00e0 vu".encode())
    copy_elsewhere(os.environ["DISPLAY"], b"<b>not offered</b>", "text/html")
    wait_for_change(window)
    assert asyncio.run(clipboard.get()) is None


def test_without_xclip_images_are_left_out_with_a_warning(
        window: SdlPresenter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    clipboard = clipboard_of(window)
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path))
    with caplog.at_level(logging.WARNING):
        asyncio.run(clipboard.put(ClipboardType.IMAGE_PNG, IMAGE))
        assert asyncio.run(clipboard.get()) is None
    assert [r.getMessage() for r in caplog.records] == [
        "copying images needs xclip (apt install xclip); text is copied without it"]
    asyncio.run(clipboard.put(ClipboardType.UTF8_TEXT, b"text still works"))
    monkeypatch.setenv("PATH", path)
    assert paste_elsewhere(os.environ["DISPLAY"], pump=window.events) == b"text still works"
