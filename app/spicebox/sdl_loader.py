"""pygame-ce, imported on first use and without its greeting on stdout.

Only the paths that need SDL (a window, a screenshot, a JPEG) pay for importing it; the
importers set any SDL environment (such as SDL_VIDEODRIVER) before calling this.
"""

from __future__ import annotations

import os
from types import ModuleType


def pygame() -> ModuleType:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame as module  # noqa: PLC0415 - deferred on purpose, see above

    return module
