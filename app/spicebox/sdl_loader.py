"""pygame-ce, imported on first use and without its greeting on stdout.

Only the paths that need SDL (a window, a screenshot, a JPEG) pay for importing it; the
importers set any SDL environment (such as SDL_VIDEODRIVER) before calling this.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

# pygame's own package imports every submodule it has. These the client never uses (sound
# goes through ALSA): SDL_mixer alone maps fluidsynth, vorbis, opus and mpg123, about
# 3 MiB of resident memory. pygame leaves a module it cannot import as a placeholder.
UNUSED = ("mixer", "mixer_music", "sndarray", "midi", "camera")


def pygame() -> ModuleType:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    if "pygame" not in sys.modules:
        for name in UNUSED:
            sys.modules.setdefault(f"pygame.{name}", None)  # type: ignore[arg-type]
    import pygame as module  # noqa: PLC0415 - deferred on purpose, see above

    return module
