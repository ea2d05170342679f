"""The pixmap cache as the canvas uses it: CACHE_ME, FROM_CACHE(_LOSSLESS), CACHE_REPLACE_ME,
INVAL_LIST / INVAL_ALL_PIXMAPS, masks from the cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spicebox.canvas.canvas import Canvas
from spicebox.canvas.composite import Format
from spicebox.spice import messages as m
from spicebox.spice.constants import (
    BitmapFormat,
    BrushType,
    ClipType,
    ImageFlags,
    ImageType,
    ResourceType,
    Ropd,
    SurfaceFlags,
)
from spicebox.spice.errors import ProtocolError
from spicebox.spice.wire import Message

from .test_canvas import H, W, base, bitmap, mask_image, rect


def cached(image: m.Image, image_id: int, flags: int = ImageFlags.CACHE_ME) -> m.Image:
    return dataclasses.replace(image, descriptor=dataclasses.replace(
        image.descriptor, id=image_id, flags=flags))


def from_cache(image_id: int, width: int, height: int,
               kind: int = ImageType.FROM_CACHE) -> m.Image:
    return m.Image(m.ImageDescriptor(image_id, kind, 0, width, height), None)


def copy(image: m.Image, box: m.Rect, *clips: m.Rect) -> m.DrawCopy:
    return m.DrawCopy(base(box, *clips), image, rect(0, 0, image.descriptor.width,
                                                     image.descriptor.height),
                      Ropd.OP_PUT, 0, m.NO_MASK)


def caching_canvas() -> Canvas:
    c = Canvas(pixmap_cache_pixels=100)
    c.apply(m.SurfaceCreate(0, W, H, 32, SurfaceFlags.PRIMARY))
    return c


def test_cached_image_is_drawn_again_by_id() -> None:
    c = caching_canvas()
    src = np.array([[1, 2], [3, 4]], np.uint32)
    c.apply(copy(cached(bitmap(src), 7), rect(0, 0, 2, 2)))
    c.apply(copy(from_cache(7, 2, 2), rect(4, 4, 6, 6)))
    assert c.primary is not None
    np.testing.assert_array_equal(c.primary.pixels[4:6, 4:6], src)


def test_image_is_cached_even_when_its_draw_is_clipped_away() -> None:
    c = caching_canvas()
    # A clip list with no rectangles: nothing of this draw is visible.
    c.apply(dataclasses.replace(copy(cached(bitmap(np.full((1, 1), 10, np.uint32)), 8),
                                     rect(0, 0, 1, 1)),
                                base=m.DisplayBase(0, rect(0, 0, 1, 1),
                                                   m.Clip(ClipType.RECTS, ()))))
    c.apply(copy(from_cache(8, 1, 1), rect(1, 1, 2, 2)))
    assert c.primary is not None and int(c.primary.pixels[1, 1]) == 10


@pytest.mark.parametrize("forget", [
    m.InvalList((m.ResourceId(ResourceType.PIXMAP, 7),)),
    m.InvalAllPixmaps(()),
])
def test_invalidated_images_are_gone(forget: Message) -> None:
    c = caching_canvas()
    c.apply(copy(cached(bitmap(np.ones((1, 1), np.uint32)), 7), rect(0, 0, 1, 1)))
    c.apply(forget)
    with pytest.raises(ProtocolError, match="never cached it or already took it back"):
        c.apply(copy(from_cache(7, 1, 1), rect(0, 0, 1, 1)))


def test_lossless_draws_wait_for_the_lossless_replacement() -> None:
    c = caching_canvas()
    # As a CACHE_ME JPEG image would leave it:
    c.pixmaps.put(7, np.ones((1, 1), np.uint32), lossy=True)
    c.apply(copy(from_cache(7, 1, 1), rect(0, 0, 1, 1)))  # a lossy draw may use it
    with pytest.raises(ProtocolError, match="only a lossy version"):
        c.apply(copy(from_cache(7, 1, 1, ImageType.FROM_CACHE_LOSSLESS), rect(0, 0, 1, 1)))
    c.apply(copy(cached(bitmap(np.full((1, 1), 3, np.uint32)), 7,
                        ImageFlags.CACHE_REPLACE_ME), rect(0, 0, 1, 1)))
    c.apply(copy(from_cache(7, 1, 1, ImageType.FROM_CACHE_LOSSLESS), rect(1, 0, 2, 1)))
    assert c.primary is not None and int(c.primary.pixels[0, 1]) == 3


def test_cache_holds_a_copy_not_a_view_of_a_surface() -> None:
    c = caching_canvas()
    c.apply(m.SurfaceCreate(1, 2, 1, 32, 0))
    c.surfaces[1].pixels[:] = 4
    surface_image = m.Image(m.ImageDescriptor(9, ImageType.SURFACE, ImageFlags.CACHE_ME, 2, 1),
                            m.SurfaceImage(1))
    c.apply(copy(surface_image, rect(0, 0, 2, 1)))
    c.surfaces[1].pixels[:] = 5
    c.apply(copy(from_cache(9, 2, 1), rect(0, 1, 2, 2)))
    assert c.primary is not None and c.primary.pixels[1, :2].tolist() == [4, 4]


def test_a_bitmap_is_cached_as_it_came_not_copied() -> None:
    c = caching_canvas()
    image = cached(bitmap(np.array([[1, 2], [3, 4]], np.uint32)), 7)
    c.apply(copy(image, rect(0, 0, 2, 2)))
    assert isinstance(image.payload, m.BitmapData)
    assert np.shares_memory(c.pixmaps.get(7, lossless=True),
                            np.frombuffer(image.payload.data, np.uint8))


def test_masks_come_from_the_cache_too() -> None:
    c = caching_canvas()
    mask = cached(mask_image(["#.", ".#"]), 3)
    fill = m.DrawFill(base(rect(0, 0, 2, 2)), m.Brush(BrushType.SOLID, 1), Ropd.OP_PUT,
                      m.QMask(0, m.Point(0, 0), mask))
    c.apply(fill)
    again = dataclasses.replace(fill, base=base(rect(2, 0, 4, 2)),
                                mask=m.QMask(0, m.Point(0, 0), from_cache(3, 2, 2)))
    c.apply(again)
    assert c.primary is not None
    assert c.primary.pixels[:2, :4].tolist() == [[1, 0, 1, 0], [0, 1, 0, 1]]


def test_a_server_that_never_evicts_is_stopped() -> None:
    c = caching_canvas()  # 100 pixels announced
    c.apply(copy(cached(bitmap(np.ones((10, 10), np.uint32)), 1), rect(0, 0, 10, 10)))
    c.apply(copy(cached(bitmap(np.ones((10, 10), np.uint32)), 2), rect(0, 0, 10, 10)))
    with pytest.raises(ProtocolError, match="caches more than the 100 pixels"):
        c.apply(copy(cached(bitmap(np.ones((1, 1), np.uint32)), 3), rect(0, 0, 1, 1)))


def test_cached_images_remember_whether_they_carry_alpha() -> None:
    # Compositing reads a source's alpha only when its format has one.
    c = caching_canvas()
    rgba = bitmap(np.full((1, 1), 0x80FFFFFF, np.uint32))
    assert isinstance(rgba.payload, m.BitmapData)
    rgba = dataclasses.replace(rgba, payload=dataclasses.replace(rgba.payload,
                                                                 format=BitmapFormat.RGBA))
    c.apply(copy(cached(rgba, 1), rect(0, 0, 1, 1)))
    c.apply(copy(cached(bitmap(np.ones((1, 1), np.uint32)), 2), rect(0, 0, 1, 1)))
    assert c.pixmaps.format_of(1) == Format.ARGB and c.pixmaps.format_of(2) == Format.XRGB
