"""`make demo`: boot the best test guest under QEMU and connect the client to it.

The best guest is the desktop one (Xorg with the QXL driver; building it needs root, for
mmdebstrap); the console guest is the fallback. On the desktop the guest then writes
text, composites and plays an animation, which the server streams as video. With a
display (``$DISPLAY``) the client opens a window until you close it; otherwise it runs
headless for a few seconds and saves a screenshot.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.guests import console, desktop
from tests.rig.qemu import VGA_DEVICES, QemuServer

HEADLESS_SECONDS = 12
# What the desktop guest does once the client is connected: a little of everything.
DESKTOP_SCRIPT = ("text 50", "render", "animate start")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="demo: %(message)s")
    cache = console.default_cache_dir()
    try:
        guest: desktop.DesktopGuest | console.ConsoleGuest = desktop.build(cache)
        args, ready, memory = VGA_DEVICES["qxl"] + guest.qemu_args(), desktop.READY, 512
    except console.GuestBuildError as exc:
        logging.info("no desktop guest (%s); showing the console guest instead", exc)
        guest = console.build(cache)
        args, ready, memory = VGA_DEVICES["std"] + guest.qemu_args(), console.READY, 256
    out = Path("out")
    out.mkdir(exist_ok=True)
    with QemuServer(args, serial=True, memory=memory,
                    spice="disable-ticketing=on,streaming-video=all") as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(ready, 180)
            logging.info("guest is up; SPICE server on %s", qemu.uri())
            command = [sys.executable, "-m", "spicebox", "connect", qemu.uri()]
            if os.environ.get("DISPLAY"):
                command += ["--backend", "x11"]
                logging.info("opening a window: close it to end the demo")
            else:
                shot = out / "demo.png"
                command += ["--backend", "headless", "--screenshot", str(shot),
                            "--screenshot-after", str(HEADLESS_SECONDS - 2),
                            "--exit-after", str(HEADLESS_SECONDS)]
                logging.info("no display here: running headless for %d s", HEADLESS_SECONDS)
            client = subprocess.Popen(command)
            if ready == desktop.READY:
                time.sleep(2)  # let the first screen arrive before the show starts
                for step in DESKTOP_SCRIPT:
                    desktop.command(serial, step, 60)
            returncode = client.wait()
        if returncode == 0 and not os.environ.get("DISPLAY"):
            logging.info("the client's screenshot is in %s", (out / "demo.png").resolve())
        return returncode


if __name__ == "__main__":
    sys.exit(main())
