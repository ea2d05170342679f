"""`make bench`, part three: input latency, key press to the first changed pixel.

The console guest shows the other of two images on every key press (`keyflip`). For each
client in turn, under the same Xvfb and against a fresh boot, a key goes to the client's
window through XTEST and the window's pixels are polled until the guest's answer shows:
the time from the key to that pixel is the whole round trip a user feels (client input
path, server, guest, display update, client drawing). Reported as medians and their
ratio, ours to remote-viewer's.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
from Xlib import X
from Xlib import display as xdisplay
from Xlib.ext import xtest

from bench.desktop import connected, remote_viewer
from tests.guests import console
from tests.rig.qemu import VGA_DEVICES, QemuServer
from tests.rig.xvfb import named_windows, xvfb

PRESSES = 15
KEY_A = 30
# Inside the box where images 0 and 1 differ (console.VIDEO_BOX), as (row, column).
PROBE = (300, 500)


def capture(x: xdisplay.Display, left: int, top: int, width: int, height: int) -> Any:
    raw = x.screen().root.get_image(left, top, width, height, X.ZPixmap, 0xFFFFFFFF)
    pixels = np.frombuffer(raw.data, np.uint8).reshape(height, width, 4)
    return pixels[..., 2::-1]  # BGRX -> RGB


def locate(x: xdisplay.Display, window: Any, image: Any) -> tuple[int, int]:
    """Where, on the screen, the guest's pixel (0, 0) is inside ``window``."""
    geometry = window.get_geometry()
    origin = window.translate_coords(x.screen().root, 0, 0)
    left, top = -origin.x, -origin.y
    shot = capture(x, left, top, geometry.width, geometry.height)
    row, column = PROBE
    needle = image[row, column - 64:column + 64].tobytes()
    for y in range(shot.shape[0]):
        at = shot[y].tobytes().find(needle)
        if at >= 0 and at % 3 == 0:
            return left + at // 3 - (column - 64), top + y - row
    raise RuntimeError("the guest's screen is not in the client's window")


def measure(command: list[str], title_part: str, display: str,
            guest: console.ConsoleGuest) -> list[float]:
    with QemuServer(VGA_DEVICES["std"] + guest.qemu_args(), serial=True) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(console.READY, 120)
            serial.send("keyflip")
            serial.wait_for(f"{console.SHOWN} keyflip", 30)
            client = subprocess.Popen([*command, qemu.uri()], env={**os.environ,
                                                                   "DISPLAY": display},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            x = xdisplay.Display(display)
            try:
                deadline = time.monotonic() + 60
                while not connected(qemu):
                    if time.monotonic() > deadline or client.poll() is not None:
                        raise RuntimeError(f"{command[0]} did not connect")
                    time.sleep(0.2)
                time.sleep(3)  # the first screen
                # The largest: GTK also makes small windows with the same title.
                window = max((w for w, name in named_windows(x) if title_part in name),
                             key=lambda w: w.get_geometry().width * w.get_geometry().height)
                images = [np.frombuffer(guest.image_rgb(i), np.uint8).reshape(
                    console.HEIGHT, console.WIDTH, 3) for i in (0, 1)]
                left, top = locate(x, window, images[0])
                row, column = PROBE
                window.set_input_focus(X.RevertToParent, X.CurrentTime)
                xtest.fake_input(x, X.MotionNotify, x=left + 10, y=top + 10)
                x.sync()
                times = []
                for press in range(PRESSES):
                    want = images[(press + 1) % 2][row, column]
                    xtest.fake_input(x, X.KeyPress, KEY_A + 8)
                    x.sync()
                    start = time.perf_counter()
                    while not np.array_equal(capture(x, left + column, top + row, 1, 1)[0, 0],
                                             want):
                        if time.perf_counter() - start > 10:
                            raise RuntimeError("the guest's answer never showed")
                    times.append(time.perf_counter() - start)
                    xtest.fake_input(x, X.KeyRelease, KEY_A + 8)
                    x.sync()
                    time.sleep(0.3)
                return times
            finally:
                x.close()
                client.terminate()
                client.wait(10)


def main() -> int:
    viewer = remote_viewer()
    if viewer is None:
        return 1
    guest = console.build(console.default_cache_dir())
    with xvfb("1920x1200x24") as display:
        ours = measure([sys.executable, "-m", "spicebox", "connect", "--backend", "x11"],
                       "spicebox", display, guest)
        # At 100 %: remote-viewer otherwise scales the guest to a default window size.
        theirs = measure([viewer, "--title", "latency-reference", "--zoom", "100"],
                         "latency-reference", display, guest)
    ours_ms, theirs_ms = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
    print(f"input latency, key press to the guest's answer on screen (median of {PRESSES}):")
    print(f"  spicebox {ours_ms:6.1f} ms, remote-viewer {theirs_ms:6.1f} ms: ratio "
          f"{ours_ms / theirs_ms:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
