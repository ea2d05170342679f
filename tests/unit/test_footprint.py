"""What a kiosk's session process imports: memory on a 1 GB board is what these keep out
(cryptography's bindings 7 MiB, dbus-fast and the setup pages 6 MiB, SDL_mixer 3 MiB,
the firmware update code and tarfile 0.5 MiB)."""

from __future__ import annotations

import json
import subprocess
import sys

KIOSK_SESSION = """
import json, sys
import spicebox.cli, spicebox.session, spicebox.display.sdl, spicebox.ui.pages.reconnect
from spicebox import sdl_loader
sdl_loader.pygame()
print(json.dumps(sorted(name for name, module in sys.modules.items() if module)))
"""


def test_a_kiosk_session_leaves_out_what_it_does_not_use() -> None:
    imported = set(json.loads(subprocess.run(
        [sys.executable, "-c", KIOSK_SESSION], capture_output=True, text=True,
        check=True).stdout))
    assert {"pygame", "pygame.display", "spicebox.ui.pages.home"} <= imported
    packages = {name.split(".")[0] for name in imported}
    assert not {"cryptography", "dbus_fast"} & packages
    assert not {"pygame.mixer", "spicebox.system.update", "tarfile"} & imported
