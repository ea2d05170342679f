"""The real client, run in-process on its own event-loop thread, so tests can look at exactly
what it holds at a chosen moment and compare it with QEMU's screendump."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import numpy as np
import uvloop

from spicebox import sdl_loader
from spicebox.audio.devices import AudioDevices
from spicebox.codecs.pixels import to_rgb
from spicebox.config.target import Target
from spicebox.display.base import Presenter
from spicebox.display.headless import HeadlessPresenter
from spicebox.session import Session
from spicebox.spice.constants import ChannelType
from spicebox.spice.errors import ProtocolError
from spicebox.spice.policy import DecodingPolicy
from spicebox.spice.recording import Record, Recorder, read_recording

from .qemu import RGB, QemuServer

T = TypeVar("T")


class ClientThread:
    """Runs a Session on a thread of its own. The presenter is made on that thread, so SDL
    is initialised and used by one thread only."""

    def __init__(self, target: Target, password: str = "",
                 policy: DecodingPolicy | None = None, ca_file: str | None = None,
                 host_subject: str | None = None,
                 presenter: Callable[[], Presenter] = HeadlessPresenter,
                 record: Path | None = None, audio: AudioDevices | None = None) -> None:
        def make_session() -> Session:
            recorder = Recorder(record) if record is not None else None
            return Session(target, password, presenter(), policy, ca_file, host_subject,
                           recorder, audio=audio)
        self._make_session = make_session
        self._loop = uvloop.new_event_loop()  # as the client runs
        self._done: Future[None] = Future()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.session = self._make_session()
            self._started.set()
            self._loop.run_until_complete(self.session.run())
            self._done.set_result(None)
        except BaseException as exc:  # handed to the test thread
            self._done.set_exception(exc)
        finally:
            if hasattr(self, "session"):
                self.session.presenter.close()  # the session's owner closes it
            self._started.set()

    def __enter__(self) -> ClientThread:
        self._thread.start()
        self._started.wait(30)
        if self._done.done():
            self._done.result()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._done.done():
            self._loop.call_soon_threadsafe(self.session.stop)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the session did not stop within 30 s"
        self._loop.close()

    def error(self) -> BaseException | None:
        return self._done.exception() if self._done.done() else None

    def wait_done(self, timeout: float) -> BaseException | None:
        self._thread.join(timeout)
        return self.error()

    def in_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the client's thread, between two of its event-loop steps."""
        if self._done.done():
            self._done.result()  # re-raise what ended the session

        async def call() -> T:
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def snapshot(self, monitor: int = 0) -> RGB | None:
        """A monitor as RGB, copied on the client's thread so no draw is half-applied."""
        def copy() -> RGB | None:
            monitors = self.session.monitors()
            return to_rgb(monitors[monitor][1].pixels) if monitor < len(monitors) else None
        return self.in_loop(copy)


def recorded_display(recording: Path) -> list[Record]:
    """The display messages a running client has recorded so far. Its recorder buffers
    writes, so the newest messages may be missing and the last record cut short."""
    records: list[Record] = []
    try:
        for record in read_recording(recording.read_bytes()):
            if record.channel_type == ChannelType.DISPLAY:
                records.append(record)
    except ProtocolError:
        pass  # the cut-short record at the end
    return records


def assert_shows_guest_screen(client: ClientThread, qemu: QemuServer, timeout: float = 60.0,
                              monitor: int = 0, device: str | None = None,
                              head: int | None = None,
                              area: tuple[int, int, int, int] | None = None) -> RGB:
    """Pixel-exact: the client's monitor equals QEMU's screendump.

    ``device`` and ``head`` choose the screendump's console. ``area`` (left, top, right,
    bottom) compares only that part of it: QXL shows all its heads on one console, a
    primary surface the heads are boxes on, so a monitor is a part of the screendump.

    The guest may change under us (SeaBIOS blinks its text cursor every ~270 ms), so the
    check brackets the client's snapshot between two screendumps 150 ms apart. The client
    passes when it shows either; it fails only when both agree, i.e. when the guest held
    still around the snapshot. (On a loaded machine the two dumps can be further apart
    than the blink: waiting for a still guest alone then failed now and then.)
    """
    deadline = time.monotonic() + timeout
    last = f"the client never showed monitor {monitor}"

    def dump() -> RGB:
        screen = qemu.screendump(device, head)
        if area is None:
            return screen
        left, top, right, bottom = area
        # Past the screen's edge the slice comes out short: a size mismatch, retried.
        return screen[top:bottom, left:right]

    while time.monotonic() < deadline:
        before = dump()
        time.sleep(0.1)
        ours = client.snapshot(monitor)
        time.sleep(0.05)
        after = dump()
        if ours is None:
            time.sleep(0.1)
            continue
        if any(ours.shape == seen.shape and np.array_equal(ours, seen)
               for seen in (before, after)):
            return ours
        if not np.array_equal(before, after):
            last = "the guest kept changing, and the client showed neither state around it"
            time.sleep(0.1)
            continue
        if ours.shape != before.shape:
            last = f"client shows {ours.shape[1]}x{ours.shape[0]}, guest {before.shape[1]}x" \
                   f"{before.shape[0]}"
        else:
            diff = np.argwhere((ours != before).any(axis=2))
            (y0, x0), (y1, x1) = diff.min(axis=0), diff.max(axis=0)
            last = f"{len(diff)} pixels differ, within x {x0}..{x1}, y {y0}..{y1}"
        time.sleep(0.2)
    raise AssertionError(f"client screen != QEMU screendump: {last}")


def load_png(png: Path) -> RGB:
    """A PNG file as (height, width, 3) RGB, the layout of QEMU's screendumps."""
    pygame = sdl_loader.pygame()
    image: RGB = pygame.surfarray.array3d(pygame.image.load(str(png))).transpose(1, 0, 2)
    return image


def assert_png_shows_bios(png: Path, dump: RGB) -> None:
    """A screenshot the ``spicebox`` command saved equals QEMU's screendump of SeaBIOS's
    text screen, but for its blinking cursor: the two are taken at different moments, so
    the cursor's text cell (9x16) may differ, nothing else. (The pixel-exact checks of the
    in-process client live in test_display.py.)"""
    image = load_png(png)
    assert image.shape == dump.shape
    differing = np.argwhere((image != dump).any(axis=2))
    if len(differing):
        (top, left), (bottom, right) = differing.min(axis=0), differing.max(axis=0)
        assert bottom - top < 16 and right - left < 9, (top, left, bottom, right)
