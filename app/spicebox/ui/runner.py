"""Runs a SetupApp on a presenter: events in, frames out, slow work on the event loop.

The same presenters as the session's (kmsdrm, fbdev, x11, headless), and the same input
sources: the window system's events, or keyboards, mice and touch screens from evdev.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..canvas.monitors import Monitor
from ..canvas.surface import Surface
from ..codecs.cursor import CursorShape
from ..display.base import Presenter
from ..display.screenshot import save_png
from ..input.evdev_source import EvdevInput
from ..input.events import InputEvent, OutputResized, PointerMotion, QuitRequested
from ..notify import keep_alive
from .app import CLOSE, Job, SetupApp

log = logging.getLogger(__name__)

T = TypeVar("T")
IDLE_POLL_SECONDS = 0.05
DEFAULT_SIZE = (1024, 600)  # a window's, or a screenshot's, when no screen says

_ARROW = ("X           ", "XX          ", "X.X         ", "X..X        ", "X...X       ",
          "X....X      ", "X.....X     ", "X......X    ", "X.......X   ", "X........X  ",
          "X.........X ", "X......XXXXX", "X...X..X    ", "X..XX..X    ", "X.X  X..X   ",
          "XX   X..X   ", "X     X..X  ", "      X..X  ", "       XX   ")


def arrow() -> CursorShape:
    """A plain pointer for screens where nothing else draws one (KMS, framebuffers)."""
    colors = {"X": 0xFF000000, ".": 0xFFFFFFFF, " ": 0}
    pixels = np.array([[colors[c] for c in row] for row in _ARROW], np.uint32)
    return CursorShape(pixels, 0, 0)


def screen_size(presenter: Presenter, wanted: tuple[int, int] | None) -> tuple[int, int]:
    """The screen's own size (devices), else the size asked for (a window, screenshots)."""
    outputs = presenter.output_sizes()
    return outputs[0] if outputs else wanted or DEFAULT_SIZE


async def show(app: SetupApp, presenter: Presenter, local_input: EvdevInput | None,
               screenshot: Path | None = None, screenshot_after: float = 0.0,
               until: float | None = None) -> str:
    """Run the UI until it finishes (or the loop time ``until``); returns its result."""
    loop = asyncio.get_running_loop()
    wakeup = asyncio.Event()
    local: list[InputEvent] = []
    jobs: set[asyncio.Task[object]] = set()

    def on_local(event: InputEvent) -> None:
        local.append(presenter.from_screen(event))
        wakeup.set()

    def run(job: Job) -> None:
        task: asyncio.Task[object] = loop.create_task(_awaited(job.work))
        jobs.add(task)

        def finished(task: asyncio.Task[object]) -> None:
            jobs.discard(task)
            if not task.cancelled():
                guarded(app.deliver, job, task.exception() or task.result())
            wakeup.set()
        task.add_done_callback(finished)

    def guarded(step: Callable[..., T], *args: object) -> T | None:
        """A bug in a page must not end the kiosk: it is logged, and said on the page."""
        try:
            return step(*args)
        except Exception as exc:
            log.exception("setup UI: %s", exc)
            app.page.say(f"internal error: {exc}; see the log", error=True)
            return None

    app.wake = wakeup.set
    width, height = app.size
    surface = _surface(width, height)
    for fd in presenter.event_fds:
        loop.add_reader(fd, wakeup.set)
    if local_input is not None:
        local_input.start(on_local)
        local_input.bounds(*presenter.screen_size(width, height))
    pointer = arrow()
    presenter.set_cursor(pointer, not app.blanked)
    dark = app.blanked
    shot_at = loop.time() + screenshot_after if screenshot is not None else None
    pings = loop.create_task(keep_alive())
    try:
        while app.result is None:
            events, local[:] = [*presenter.events(), *local], []
            for event in events:
                if isinstance(event, QuitRequested):
                    app.finish(CLOSE)
                elif isinstance(event, OutputResized):
                    app.resize(event.width, event.height)
                    surface = _surface(event.width, event.height)
                    if local_input is not None:
                        local_input.bounds(*presenter.screen_size(event.width, event.height))
                else:
                    if isinstance(event, PointerMotion) and event.monitor == 0:
                        presenter.move_pointer(event.x, event.y)
                    guarded(app.handle, event)
            now = loop.time()
            deadline = guarded(app.tick, now)
            for job in app.jobs:
                run(job)
            app.jobs.clear()
            if app.blanked != dark:  # no pointer on a dark screen
                dark = app.blanked
                presenter.set_cursor(pointer, not dark)
            if app.dirty:
                app.render(surface.pixels)
                monitor = Monitor(surface, surface.bounds)
                presenter.present([monitor], [[surface.bounds]])
            if shot_at is not None and screenshot is not None and now >= shot_at:
                shot_at = None
                try:
                    save_png(surface.pixels, screenshot)
                    log.info("screenshot of the setup screen saved to %s", screenshot)
                except OSError as exc:
                    log.error("screenshot not saved: %s", exc)
            if until is not None and now >= until:
                break
            waits = [t - now for t in (deadline, shot_at, until) if t is not None]
            if presenter.polled:
                waits.append(IDLE_POLL_SECONDS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, min(waits)) if waits else None):
                    await wakeup.wait()
            wakeup.clear()
    finally:
        for fd in presenter.event_fds:
            loop.remove_reader(fd)
        if local_input is not None:
            local_input.close()
        for task in (*jobs, pings):
            task.cancel()
        await asyncio.gather(*jobs, pings, return_exceptions=True)
    return app.result or CLOSE


async def _awaited(work: Callable[[], Awaitable[object]]) -> object:
    return await work()


def _surface(width: int, height: int) -> Surface:
    return Surface(0, width, height, 32, True)

