"""`make demo`: boot the console test guest under QEMU and connect the client to it.

With a desktop (``$DISPLAY``) the client opens a window until you close it; otherwise it
runs headless for a few seconds and saves a screenshot.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from tests.guests import console
from tests.rig.qemu import QemuServer

HEADLESS_SECONDS = 6


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="demo: %(message)s")
    guest = console.build(console.default_cache_dir())
    out = Path("out")
    out.mkdir(exist_ok=True)
    with QemuServer(["-vga", "std", *guest.qemu_args()], serial=True) as qemu:
        assert qemu.serial_path is not None
        with console.SerialConsole(qemu.serial_path) as serial:
            serial.wait_for(console.READY, 120)
        logging.info("guest is up; SPICE server on %s", qemu.uri())
        command = [sys.executable, "-m", "spicebox", "connect", qemu.uri()]
        if os.environ.get("DISPLAY"):
            command += ["--backend", "x11"]
            logging.info("opening a window: close it to end the demo")
        else:
            shot = out / "demo.png"
            command += ["--backend", "headless", "--screenshot", str(shot),
                        "--screenshot-after", "3", "--exit-after", str(HEADLESS_SECONDS)]
            logging.info("no display here: running headless for %d s", HEADLESS_SECONDS)
        result = subprocess.run(command, check=False)
        if result.returncode == 0 and not os.environ.get("DISPLAY"):
            logging.info("the client's screenshot is in %s", (out / "demo.png").resolve())
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
