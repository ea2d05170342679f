"""An Xvfb X server on a display number it picks itself, for the x11 presenter's tests."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from Xlib import X, Xatom
from Xlib import display as xdisplay


@contextmanager
def xvfb(size: str = "1280x1024x24") -> Iterator[str]:
    """Yield the DISPLAY string of a fresh Xvfb; stop it afterwards."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed: run `make test`, which installs xvfb")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", size,
                                "-nolisten", "tcp"], pass_fds=(write_fd,),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        number = os.read(read_fd, 32).decode().strip() if ready else ""
        if not number:
            raise RuntimeError("Xvfb did not start within 30 s")
        yield f":{number}"
    finally:
        os.close(read_fd)
        process.terminate()
        process.wait(10)


def copy_elsewhere(display: str, data: bytes, target: str | None = None) -> None:
    """Copy ``data`` as another X client would (xclip, as text unless ``target`` names
    another form)."""
    # xclip leaves a child serving the copy: its output must not be a pipe of ours.
    subprocess.run(["xclip", "-display", display, "-selection", "clipboard",
                    *(["-t", target] if target else []), "-i"],
                   input=data, check=True, timeout=30, stdout=subprocess.DEVNULL)


def paste_elsewhere(display: str, target: str | None = None,
                    pump: Callable[[], object] | None = None) -> bytes | None:
    """What another X client pastes (xclip; None: nothing, or not in that form).
    ``pump`` reads the events of a window on this thread that may own the clipboard, so
    that it answers meanwhile (as a session's loop would)."""
    with subprocess.Popen(["xclip", "-display", display, "-selection", "clipboard",
                           *(["-t", target] if target else []), "-o"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as paste:
        deadline = time.monotonic() + 30
        while True:
            if pump is not None:
                pump()
            try:
                pasted, _ = paste.communicate(timeout=0.02)  # keeps what came so far
                return pasted if paste.returncode == 0 else None
            except subprocess.TimeoutExpired:
                assert time.monotonic() < deadline, "xclip got no answer"


def named_windows(x: xdisplay.Display) -> list[tuple[Any, str]]:
    """The top-level windows that have a title, with it (python-xlib's Window: no types)."""
    found = []
    for window in x.screen().root.query_tree().children:
        name = window.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
        if name is not None:
            found.append((window, name.value.decode(errors="replace")))
    return found


def window_named(x: xdisplay.Display, title: str) -> Any:
    """The top-level window titled ``title``."""
    for window, name in named_windows(x):
        if name == title:
            return window
    raise AssertionError(f"no window titled {title!r}")
