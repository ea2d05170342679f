"""The palette cache every display channel keeps, whatever the client announced.

spice-server decides on its own to send a palette once with PAL_CACHE_ME and afterwards
only its id with PAL_FROM_CACHE (``dcc_palette_cache_palette``); INVAL_PALETTE and
INVAL_ALL_PALETTES take entries back, and RESET empties it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..spice.constants import BitmapFlags
from ..spice.errors import ProtocolError
from ..spice.messages import Palette

# spice-server keeps 128 (CLIENT_PALETTE_CACHE_SIZE) and invalidates beyond that; more
# than this many means a server that never invalidates, and memory to protect.
MAX_PALETTES = 1024


class PaletteCache:
    def __init__(self) -> None:
        self._palettes: dict[int, tuple[int, ...]] = {}

    def resolve(self, flags: int, palette: Palette | None, palette_id: int) -> Sequence[int] | None:
        """The colours an indexed image uses, caching them when the server asks to."""
        if flags & BitmapFlags.PAL_FROM_CACHE:
            try:
                return self._palettes[palette_id]
            except KeyError:
                raise ProtocolError(f"image uses palette {palette_id:#x}, which the server "
                                    f"never sent or already took back") from None
        if palette is None:
            return None
        if flags & BitmapFlags.PAL_CACHE_ME:
            if len(self._palettes) >= MAX_PALETTES and palette.unique not in self._palettes:
                raise ProtocolError(f"the server keeps more than {MAX_PALETTES} palettes "
                                    f"cached without invalidating any")
            self._palettes[palette.unique] = palette.entries
        return palette.entries

    def invalidate(self, palette_id: int) -> None:
        self._palettes.pop(palette_id, None)

    def clear(self) -> None:
        self._palettes.clear()
