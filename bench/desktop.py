"""`make bench`, part two: the client against remote-viewer on one scripted desktop workload.

Both clients run in turn under the same Xvfb against the same desktop guest (Xorg with the
QXL driver, tests/guests/desktop.py) booted afresh for each, and the guest plays the same
script: text that scrolls, scrolling, RENDER compositing, a few seconds of animation
(which the server streams as MJPEG) and a redraw. The result is the ratio of the two
processes' CPU time over the script, plus this client's peak RSS. Each client runs as it
would for a user: spicebox with its defaults (raw bitmaps from a local server), remote-
viewer (virt-viewer from Debian, spice-gtk in C) with its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from spicebox.spice.constants import ChannelType
from tests.guests import console, desktop
from tests.rig.client import recorded_display
from tests.rig.qemu import VGA_DEVICES, QemuServer
from tests.rig.xvfb import xvfb

WORKLOAD = ("text 60", "scroll 7", "text 20", "render", "animate start", "sleep 5",
            "animate stop", "scene 0", "text 30")
MODE = "1920x1080"  # the screen; the scene draws in its top-left 1024x768
SETTLE_SECONDS = 3.0  # after the script, for the client to draw what is still queued
# Measured runs of each client: one run's CPU time varies by a fifth, and the machine
# drifts by a tenth from hour to hour.
ROUNDS = 5


@dataclass
class Run:
    cpu_seconds: float
    peak_rss_mib: float


def cpu_seconds(pid: int) -> float:
    """CPU seconds of process ``pid`` so far, its ended threads included, to the
    nanosecond. /proc's utime and stime count whole clock ticks (10 ms each): the script
    takes a client about 0.15 s, which they would measure to within a tenth."""
    # Linux's clock id for another process's CPU time: MAKE_PROCESS_CPUCLOCK(pid,
    # CPUCLOCK_SCHED), which clock_getcpuclockid(3) returns in C.
    return time.clock_gettime((~pid << 3) | 2)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def connected(qemu: QemuServer) -> bool:
    assert qemu.qmp is not None
    channels = qemu.qmp.execute("query-spice").get("channels", [])
    return any(c.get("channel-type") == ChannelType.DISPLAY for c in channels)


def run_client(guest: desktop.DesktopGuest, command: list[str], display: str) -> Run:
    with QemuServer(VGA_DEVICES["qxl"] + guest.qemu_args(), serial=True, memory=512,
                    spice="disable-ticketing=on,streaming-video=all") as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(desktop.READY, 180)
            client = subprocess.Popen([*command, qemu.uri()], env={**os.environ,
                                                                   "DISPLAY": display},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 60
                while not connected(qemu):
                    if time.monotonic() > deadline or client.poll() is not None:
                        raise RuntimeError(f"{command[0]} did not connect")
                    time.sleep(0.2)
                desktop.command(serial, f"mode {MODE}", 60)
                time.sleep(SETTLE_SECONDS)  # the first screen, outside the measurement
                start = cpu_seconds(client.pid)
                for step in WORKLOAD:
                    if step.startswith("sleep "):
                        time.sleep(float(step.split()[1]))
                        continue
                    desktop.command(serial, step, 60)
                time.sleep(SETTLE_SECONDS)
                return Run(cpu_seconds(client.pid) - start, peak_rss_mib(client.pid))
            finally:
                client.terminate()
                client.wait(10)


def frames(recording: Path) -> int:
    """Display messages received: the work the script gave a client."""
    return sum(record.msg_type >= 100 for record in recorded_display(recording))


def remote_viewer() -> str | None:
    """remote-viewer's path, the reference client; None (said once) if it is missing."""
    viewer = shutil.which("remote-viewer")
    if viewer is None:
        print("remote-viewer is not installed: run `make bench`, which installs virt-viewer")
    return viewer


def main() -> int:
    viewer = remote_viewer()
    if viewer is None:
        return 1
    guest = desktop.build(console.default_cache_dir())
    spicebox = [sys.executable, "-m", "spicebox", "connect", "--backend", "x11"]
    with tempfile.TemporaryDirectory() as tmp, xvfb("1920x1200x24") as display:
        # The script's display messages, counted in a recording of a run of its own:
        # recording costs CPU the measured runs must not pay.
        recording = Path(tmp) / "display.rec"
        run_client(guest, [*spicebox, "--record", str(recording)], display)
        messages = frames(recording)
        print(f"desktop workload ({messages} display messages), client CPU:", flush=True)
        # Taking turns, so that whatever else the machine does falls on both alike, and
        # going first in every other round.
        ours: list[Run] = []
        theirs: list[Run] = []
        for i in range(ROUNDS):
            turns = [(ours, spicebox), (theirs, [viewer])]
            for runs, command in turns if i % 2 == 0 else turns[::-1]:
                runs.append(run_client(guest, command, display))
            print(f"  round {i + 1}: spicebox {ours[-1].cpu_seconds:.3f} s, remote-viewer "
                  f"{theirs[-1].cpu_seconds:.3f} s over the script", flush=True)
    our_cpu = sum(run.cpu_seconds for run in ours) / ROUNDS
    their_cpu = sum(run.cpu_seconds for run in theirs) / ROUNDS
    per_100 = 100 / max(messages, 1)
    print(f"  per 100 messages, mean of {ROUNDS} runs each: spicebox {our_cpu * per_100:.3f} s, "
          f"remote-viewer {their_cpu * per_100:.3f} s: ratio {our_cpu / max(their_cpu, 1e-9):.2f}x")
    print(f"  peak RSS: spicebox {max(run.peak_rss_mib for run in ours):.1f} MiB, "
          f"remote-viewer {max(run.peak_rss_mib for run in theirs):.1f} MiB "
          f"({MODE} guest screen)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
