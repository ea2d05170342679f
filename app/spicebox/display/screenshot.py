"""PNG screenshots of exactly what the client holds."""

from __future__ import annotations

from pathlib import Path

from .. import sdl_loader
from ..codecs.pixels import Pixels, to_rgb


def save_png(pixels: Pixels, path: Path) -> None:
    """Write XRGB pixels as an opaque RGB PNG, atomically (a reader never sees half a file).

    Raises OSError when the file cannot be written."""
    pygame = sdl_loader.pygame()
    height, width = pixels.shape
    image = pygame.image.frombuffer(to_rgb(pixels).tobytes(), (width, height), "RGB")
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        pygame.image.save(image, str(tmp))
    except pygame.error as exc:
        raise OSError(f"cannot write {path}: {exc}") from None
    tmp.replace(path)
