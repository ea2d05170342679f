"""The pixmap cache: decoded images the server may send again by id alone.

The server keeps the books: it knows how many pixels this client announced in DISPLAY_INIT,
evicts in LRU order and says which ids to drop (INVAL_LIST, INVAL_ALL_PIXMAPS). An image
flagged CACHE_ME is kept after decoding; FROM_CACHE draws it again; a lossy (JPEG) entry
may be upgraded in place by a CACHE_REPLACE_ME image, and FROM_CACHE_LOSSLESS insists on
that upgrade having happened. Each display channel announces a cache of its own, so an
entry is always put before it is used and no cross-channel waiting is needed.
"""

from __future__ import annotations

from typing import NamedTuple

from ..codecs.pixels import Pixels
from ..spice.errors import ProtocolError
from .composite import Format


class _Entry(NamedTuple):
    pixels: Pixels
    lossy: bool
    format: Format


class PixmapCache:
    def __init__(self, announced_pixels: int) -> None:
        # Evictions reach the client a message later than the image that caused them, so
        # the cache may briefly hold more than announced; twice as much is a server that
        # does not evict at all.
        self.limit = 2 * announced_pixels
        self._entries: dict[int, _Entry] = {}
        self._pixels = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, image_id: int, pixels: Pixels, lossy: bool,
            fmt: Format = Format.XRGB) -> None:
        """Keep ``pixels``, which compositing reads as ``fmt``. The cache keeps the array
        itself, not a copy: the caller hands over pixels that nothing changes later."""
        self.remove(image_id)
        size = pixels.shape[0] * pixels.shape[1]
        if self._pixels + size > self.limit:
            raise ProtocolError(f"the server caches more than the {self.limit // 2} pixels "
                                f"this client announced")
        self._entries[image_id] = _Entry(pixels, lossy, fmt)
        self._pixels += size

    def replace_lossy(self, image_id: int, pixels: Pixels, fmt: Format = Format.XRGB) -> None:
        if image_id not in self._entries:
            raise ProtocolError(f"lossless replacement for image {image_id:#x}, which is "
                                f"not cached")
        self.put(image_id, pixels, lossy=False, fmt=fmt)

    def get(self, image_id: int, lossless: bool) -> Pixels:
        entry = self._entry(image_id)
        if lossless and entry.lossy:
            raise ProtocolError(f"image {image_id:#x} is wanted lossless, but only a lossy "
                                f"version was cached")
        return entry.pixels

    def format_of(self, image_id: int) -> Format:
        return self._entry(image_id).format

    def _entry(self, image_id: int) -> _Entry:
        entry = self._entries.get(image_id)
        if entry is None:
            raise ProtocolError(f"image {image_id:#x} is drawn from the cache, but the server "
                                f"never cached it or already took it back")
        return entry

    def remove(self, image_id: int) -> None:
        entry = self._entries.pop(image_id, None)
        if entry is not None:
            self._pixels -= entry.pixels.shape[0] * entry.pixels.shape[1]

    def clear(self) -> None:
        self._entries.clear()
        self._pixels = 0
