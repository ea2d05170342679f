"""pygame (SDL 2) presenter: an X11 window for development, KMS/DRM on devices.

The canvas's numpy buffer is wrapped as a pygame surface without copying; presenting a
damaged box is one blit of that box and one display update of it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .. import sdl_loader
from ..canvas.surface import Box, Surface

# SDL video driver for each backend name; SDL 2 has no fbdev driver (see fbdev.py).
SDL_DRIVERS = {"x11": "x11", "kmsdrm": "kmsdrm"}


class DisplayUnavailable(Exception):
    """The requested video backend cannot open a display here."""


class SdlPresenter:
    def __init__(self, backend: str, title: str) -> None:
        os.environ["SDL_VIDEODRIVER"] = SDL_DRIVERS[backend]
        self._pg = pygame = sdl_loader.pygame()
        try:
            pygame.display.init()
        except pygame.error as exc:
            raise DisplayUnavailable(f"cannot open the {backend} display: {exc}") from None
        self.name = backend
        self._title = title
        # pygame.Surface objects; pygame ships no type information.
        self._screen: Any = None
        self._source: Any = None
        self._shown: Surface | None = None
        self._fullscreen = backend == "kmsdrm"

    def _attach(self, surface: Surface) -> None:
        pg = self._pg
        flags = pg.FULLSCREEN if self._fullscreen else 0
        self._screen = pg.display.set_mode((surface.width, surface.height), flags)
        pg.display.set_caption(self._title)
        pg.mouse.set_visible(not self._fullscreen)
        # Byte order B, G, R, X in memory is SDL's BGRA; blending off makes X irrelevant.
        self._source = pg.image.frombuffer(surface.pixels, (surface.width, surface.height),
                                           "BGRA")
        self._source.set_alpha(None)
        self._shown = surface

    def present(self, surface: Surface, damage: Sequence[Box]) -> None:
        if surface is not self._shown:
            self._attach(surface)
            damage = [surface.bounds]
        assert self._screen is not None and self._source is not None
        rects = [(b.left, b.top, b.width, b.height) for b in damage]
        for rect in rects:
            self._screen.blit(self._source, rect[:2], rect)
        self._pg.display.update(rects)

    def quit_requested(self) -> bool:
        return any(e.type == self._pg.QUIT for e in self._pg.event.get())

    def close(self) -> None:
        self._pg.display.quit()
