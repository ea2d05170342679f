"""PNG screenshots of exactly what the client holds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..codecs.pixels import Pixels


def save_png(pixels: Pixels, path: Path) -> None:
    """Write XRGB pixels as an opaque RGB PNG, atomically (a reader never sees half a file).

    Raises OSError when the file cannot be written."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame  # noqa: PLC0415 - keeps pygame's import cost off paths that never save

    height, width = pixels.shape
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[..., 0] = pixels >> 16
    rgb[..., 1] = pixels >> 8
    rgb[..., 2] = pixels
    image = pygame.image.frombuffer(rgb.tobytes(), (width, height), "RGB")
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        pygame.image.save(image, str(tmp))
    except pygame.error as exc:
        raise OSError(f"cannot write {path}: {exc}") from None
    tmp.replace(path)
