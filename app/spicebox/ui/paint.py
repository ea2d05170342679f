"""Drawing for the setup UI: sizes that scale with the screen, colours, text, boxes.

Everything is drawn with pygame straight into the XRGB pixel array the presenters show,
so the UI reaches a screen exactly the way a session's frames do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .. import sdl_loader
from ..canvas.surface import Box
from ..codecs.pixels import Pixels

Color = tuple[int, int, int]

BACKGROUND: Color = (24, 28, 36)
PANEL: Color = (38, 44, 56)
HEADER: Color = (16, 19, 25)
TEXT: Color = (232, 236, 242)
MUTED: Color = (150, 160, 176)
ACCENT: Color = (64, 140, 230)
FOCUS: Color = (255, 196, 64)
ERROR: Color = (240, 96, 96)
OK: Color = (110, 200, 120)
DANGER: Color = (170, 56, 56)

# DejaVu Sans covers most scripts a profile name or an error may hold; pygame's own font
# (ASCII-centred) stands in where the package is missing.
_FONT_FILES = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),)
# The layout is designed for the smallest screen supported, the 800x480 Raspberry Pi touch
# screen, and scaled up from there.
BASE_WIDTH, BASE_HEIGHT = 800, 480


@dataclass(frozen=True)
class Metrics:
    """Sizes in pixels for one screen size."""

    width: int
    height: int
    scale: float

    @classmethod
    def for_size(cls, width: int, height: int) -> Metrics:
        return cls(width, height, min(width / BASE_WIDTH, height / BASE_HEIGHT))

    def px(self, base: float) -> int:
        return max(1, round(base * self.scale))

    @property
    def row(self) -> int:  # a widget's height: a comfortable touch target
        return self.px(44)

    @property
    def gap(self) -> int:
        return self.px(6)

    @property
    def pad(self) -> int:
        return self.px(12)

    @property
    def header(self) -> int:
        return self.px(46)

    @property
    def text(self) -> int:
        return self.px(20)

    @property
    def title(self) -> int:
        return self.px(26)

    @property
    def small(self) -> int:
        return self.px(16)


@cache
def _font(size: int) -> Any:
    pygame = sdl_loader.pygame()
    if not pygame.font.get_init():
        pygame.font.init()
    path = next((p for p in _FONT_FILES if p.is_file()), None)
    return pygame.font.Font(str(path) if path else None, size)


class Painter:
    """Draws on a pixel array (shared with the presenter, not copied)."""

    def __init__(self, pixels: Pixels) -> None:
        self._pg = sdl_loader.pygame()
        height, width = pixels.shape
        # Opaque colours only, so the alpha byte pygame writes is always 0xFF and the
        # presenters' XRGB reading of it is right.
        self._surface = self._pg.image.frombuffer(pixels, (width, height), "BGRA")

    def clip(self, box: Box | None) -> None:
        """Draw only inside ``box`` from now on (None: everywhere)."""
        self._surface.set_clip(None if box is None else _rect(box))

    def fill(self, box: Box, color: Color, radius: int = 0) -> None:
        self._pg.draw.rect(self._surface, color, _rect(box), border_radius=radius)

    def outline(self, box: Box, color: Color, width: int, radius: int = 0) -> None:
        self._pg.draw.rect(self._surface, color, _rect(box), width, border_radius=radius)

    def text(self, text: str, x: int, y: int, size: int, color: Color,
             max_width: int | None = None, center: bool = False) -> None:
        """One line, its top at y (vertically centred on y when ``center``), cut short
        with an ellipsis where it would pass ``max_width``."""
        font = _font(size)
        if max_width is not None:
            text = elide(text, size, max_width)
        image = font.render(text, True, color)
        if center:
            y -= image.get_height() // 2
        self._surface.blit(image, (x, y))

    def line(self, start: tuple[int, int], end: tuple[int, int], color: Color,
             width: int) -> None:
        self._pg.draw.line(self._surface, color, start, end, width)


def line_height(size: int) -> int:
    """The distance between lines of text of this size."""
    return round(size * 1.35)


def text_width(text: str, size: int) -> int:
    return int(_font(size).size(text)[0])


def elide(text: str, size: int, max_width: int) -> str:
    if text_width(text, size) <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        if text_width(text[:mid] + "…", size) <= max_width:
            low = mid
        else:
            high = mid - 1
    return text[:low] + "…"


def wrap(text: str, size: int, max_width: int) -> list[str]:
    """Words into lines no wider than ``max_width`` (a longer word is elided)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, size) > max_width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(elide(line, size, max_width))
    return lines


def _rect(box: Box) -> tuple[int, int, int, int]:
    return (box.left, box.top, box.width, box.height)
