from __future__ import annotations

import numpy as np
import pytest

from spicebox.canvas import canvas as canvas_module
from spicebox.canvas.canvas import Canvas
from spicebox.canvas.surface import Box
from spicebox.codecs.lz import PLT8
from spicebox.spice import messages as m
from spicebox.spice.constants import (
    AlphaFlags,
    BitmapFlags,
    BitmapFormat,
    BrushType,
    ClipType,
    ImageType,
    Ropd,
    SurfaceFlags,
    SurfaceFormat,
)
from spicebox.spice.errors import ProtocolError
from spicebox.spice.wire import Message

from .test_lz import stream as lz_stream

W, H = 16, 8


def canvas() -> Canvas:
    c = Canvas()
    assert c.apply(m.SurfaceCreate(0, W, H, 32, SurfaceFlags.PRIMARY)) == Box(0, 0, W, H)
    return c


def rect(left: int, top: int, right: int, bottom: int) -> m.Rect:
    return m.Rect(top, left, bottom, right)


def bitmap(pixels: np.ndarray) -> m.Image:
    h, w = pixels.shape
    data = memoryview(pixels.astype("<u4").tobytes())
    return m.Image(m.ImageDescriptor(1, ImageType.BITMAP, 0, w, h),
                   m.BitmapData(BitmapFormat.BIT32, BitmapFlags.TOP_DOWN, w, h, w * 4, None, 0,
                                data))


def base(box: m.Rect, *clips: m.Rect) -> m.DisplayBase:
    return m.DisplayBase(0, box, m.Clip(ClipType.RECTS if clips else ClipType.NONE, clips))


def test_copy_with_clip_rects_touches_only_the_clip() -> None:
    c = canvas()
    src = np.arange(4 * 4, dtype=np.uint32).reshape(4, 4) + 1
    damage = c.apply(m.DrawCopy(base(rect(2, 1, 6, 5), rect(2, 1, 4, 3), rect(5, 4, 6, 5)),
                                bitmap(src), rect(0, 0, 4, 4), Ropd.OP_PUT, 0, m.NO_MASK))
    assert damage == Box(2, 1, 6, 5)
    assert c.primary is not None
    expect = np.zeros((H, W), np.uint32)
    expect[1:3, 2:4] = src[0:2, 0:2]
    expect[4, 5] = src[3, 3]
    np.testing.assert_array_equal(c.primary.pixels, expect)


def test_copy_scales_when_areas_differ() -> None:
    c = canvas()
    src = np.array([[1, 2], [3, 4]], np.uint32)
    c.apply(m.DrawCopy(base(rect(0, 0, 4, 4)), bitmap(src), rect(0, 0, 2, 2), Ropd.OP_PUT, 0,
                       m.NO_MASK))
    assert c.primary is not None
    np.testing.assert_array_equal(c.primary.pixels[:4, :4], np.kron(src, np.ones((2, 2), int)))


@pytest.mark.parametrize(("ropd", "expect"), [
    (Ropd.OP_PUT, 0x0F0),
    (Ropd.OP_XOR, 0x0F0 ^ 0x00F),
    (Ropd.OP_OR | Ropd.INVERS_BRUSH, 0x00F | ~np.uint32(0x0F0)),
    (Ropd.OP_WHITENESS, 0xFFFFFFFF),
    (Ropd.OP_INVERS, ~np.uint32(0x00F)),
    (Ropd.OP_AND | Ropd.INVERS_RES, ~np.uint32(0x00F & 0x0F0)),
])
def test_fill_rops(ropd: int, expect: int) -> None:
    c = canvas()
    assert c.primary is not None
    c.primary.pixels[:] = 0x00F
    c.apply(m.DrawFill(base(rect(0, 0, W, H)), m.Brush(BrushType.SOLID, 0x0F0), ropd,
                       m.NO_MASK))
    assert int(c.primary.pixels[3, 3]) == int(np.uint32(expect))


def test_copy_bits_scrolls_overlapping_regions() -> None:
    c = canvas()
    assert c.primary is not None
    c.primary.pixels[:] = np.arange(H, dtype=np.uint32)[:, None]
    # Scroll up by two rows, the way a console scrolls.
    c.apply(m.CopyBits(base(rect(0, 0, W, H - 2)), m.Point(0, 2)))
    np.testing.assert_array_equal(c.primary.pixels[:, 0], [2, 3, 4, 5, 6, 7, 6, 7])



@pytest.mark.parametrize("dx, dy", [(0, 1), (0, -1), (0, 3), (0, -3), (2, 0), (-2, 0),
                                    (5, 0), (3, 2), (-3, -2), (1, -1), (0, 7), (-15, 0),
                                    (0, 0)])
@pytest.mark.parametrize("banded", [True, False])
def test_copy_bits_within_a_surface_equals_a_copy_of_the_source(
        dx: int, dy: int, banded: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if banded:  # as a big scroll is copied, on this small surface
        monkeypatch.setattr(canvas_module, "_BANDED_SCROLL_PIXELS", 0)
        monkeypatch.setattr(canvas_module, "_BAND_PIXELS", 0)
    c = canvas()
    assert c.primary is not None
    pixels = c.primary.pixels
    pixels[:] = np.random.default_rng(7).integers(0, 2**32, pixels.shape, dtype=np.uint32)
    left, top = max(0, -dx), max(0, -dy)
    right, bottom = W - max(0, dx), H - max(0, dy)
    expected = pixels.copy()
    expected[top:bottom, left:right] = pixels[top + dy:bottom + dy, left + dx:right + dx]
    c.apply(m.CopyBits(base(rect(left, top, right, bottom)), m.Point(left + dx, top + dy)))
    np.testing.assert_array_equal(pixels, expected)

def test_copy_from_another_surface() -> None:
    c = canvas()
    c.apply(m.SurfaceCreate(1, 2, 2, 32, 0))
    c.surfaces[1].pixels[:] = 9
    image = m.Image(m.ImageDescriptor(0, ImageType.SURFACE, 0, 2, 2), m.SurfaceImage(1))
    c.apply(m.DrawCopy(base(rect(0, 0, 2, 2)), image, rect(0, 0, 2, 2), Ropd.OP_PUT, 0,
                       m.NO_MASK))
    assert c.primary is not None and int(c.primary.pixels[1, 1]) == 9


def test_off_screen_draws_do_not_damage_the_screen() -> None:
    c = canvas()
    c.apply(m.SurfaceCreate(1, 4, 4, 32, 0))
    fill = m.DrawFill(m.DisplayBase(1, rect(0, 0, 4, 4), m.Clip(ClipType.NONE)),
                      m.Brush(BrushType.SOLID, 1), Ropd.OP_PUT, m.NO_MASK)
    assert c.apply(fill) is None


@pytest.mark.parametrize("msg", [
    m.DrawFill(m.DisplayBase(5, rect(0, 0, 1, 1), m.Clip(ClipType.NONE)),
               m.Brush(BrushType.SOLID, 1), Ropd.OP_PUT, m.NO_MASK),
    m.DrawCopy(base(rect(0, 0, 4, 4)), bitmap(np.zeros((2, 2), np.uint32)), rect(0, 0, 3, 3),
               Ropd.OP_PUT, 0, m.NO_MASK),
    m.CopyBits(base(rect(0, 0, 4, 4)), m.Point(W - 1, 0)),
    m.SurfaceCreate(2, 0, 10, 32, 0),
])
def test_inconsistent_draws_are_protocol_errors(msg: Message) -> None:
    c = canvas()
    with pytest.raises(ProtocolError):
        c.apply(msg)


def test_pattern_brush_without_an_image_is_a_protocol_error() -> None:
    c = canvas()
    pattern = m.Brush(BrushType.PATTERN, pattern=m.Pattern(None, m.Point(0, 0)))
    with pytest.raises(ProtocolError, match="pattern"):
        c.apply(m.DrawFill(base(rect(0, 0, 2, 2)), pattern, Ropd.OP_PUT, m.NO_MASK))


def test_reset_clears_the_screen_for_a_redraw() -> None:
    c = canvas()
    assert c.primary is not None
    c.primary.pixels[:] = 7
    assert c.apply(m.DisplayReset()) == Box(0, 0, W, H)
    assert not c.primary.pixels.any()


def test_huge_scaled_destination_costs_only_its_visible_part() -> None:
    c = canvas()
    src = np.array([[1, 2], [3, 4]], np.uint32)
    huge = m.Rect(0, 0, 2**30, 2**30)
    c.apply(m.DrawCopy(base(huge), bitmap(src), rect(0, 0, 2, 2), Ropd.OP_PUT, 0, m.NO_MASK))
    assert c.primary is not None and (c.primary.pixels == 1).all()


def test_absurd_image_size_is_refused_before_decoding() -> None:
    c = canvas()
    image = m.Image(m.ImageDescriptor(0, ImageType.LZ4, 0, 1 << 20, 1 << 20),
                    m.BinaryData(memoryview(b"\x01\x08")))
    with pytest.raises(ProtocolError, match="out of range"):
        c.apply(m.DrawCopy(base(rect(0, 0, 2, 2)), image, rect(0, 0, 2, 2), Ropd.OP_PUT, 0,
                           m.NO_MASK))


def test_clip_with_no_rects_draws_nothing() -> None:
    c = canvas()
    empty_clip = m.DisplayBase(0, rect(0, 0, W, H), m.Clip(ClipType.RECTS, ()))
    assert c.apply(m.DrawFill(empty_clip, m.Brush(BrushType.SOLID, 5), Ropd.OP_PUT,
                              m.NO_MASK)) is None
    assert c.primary is not None and not c.primary.pixels.any()


def indexed(flags: int, palette: m.Palette | None, palette_id: int = 0) -> m.Image:
    data = memoryview(bytes([0, 1, 1, 0]))
    return m.Image(m.ImageDescriptor(0, ImageType.BITMAP, 0, 2, 2),
                   m.BitmapData(BitmapFormat.BIT8, flags | BitmapFlags.TOP_DOWN, 2, 2, 2,
                                palette, palette_id, data))


def copy_of(image: m.Image) -> m.DrawCopy:
    return m.DrawCopy(base(rect(0, 0, 2, 2)), image, rect(0, 0, 2, 2), Ropd.OP_PUT, 0,
                      m.NO_MASK)


def test_palette_cache_follows_the_server() -> None:
    c = canvas()
    assert c.primary is not None
    c.apply(copy_of(indexed(BitmapFlags.PAL_CACHE_ME, m.Palette(77, (0x111111, 0x222222)))))
    c.primary.pixels[:] = 0
    c.apply(copy_of(indexed(BitmapFlags.PAL_FROM_CACHE, None, 77)))
    assert c.primary.pixels[:2, :2].tolist() == [[0x111111, 0x222222], [0x222222, 0x111111]]
    c.apply(m.InvalPalette(77))
    with pytest.raises(ProtocolError, match="palette 0x4d"):
        c.apply(copy_of(indexed(BitmapFlags.PAL_FROM_CACHE, None, 77)))


@pytest.mark.parametrize("forget", [m.InvalAllPalettes(), m.DisplayReset()])
def test_palettes_forgotten_on_inval_all_and_reset(forget: Message) -> None:
    c = canvas()
    c.apply(copy_of(indexed(BitmapFlags.PAL_CACHE_ME, m.Palette(5, (1, 2)))))
    c.apply(forget)
    with pytest.raises(ProtocolError):
        c.apply(copy_of(indexed(BitmapFlags.PAL_FROM_CACHE, None, 5)))


def test_lz_plt_draws_and_caches_its_palette() -> None:
    c = canvas()
    tokens = bytes([3, 1, 0, 0, 1])  # four literal palette indices
    lz_plt = m.Image(m.ImageDescriptor(0, ImageType.LZ_PLT, 0, 2, 2),
                     m.LzPltData(BitmapFlags.PAL_CACHE_ME, m.Palette(9, (7, 8)), 0,
                                 lz_stream(PLT8, 2, 2, 2, tokens)))
    c.apply(copy_of(lz_plt))
    assert c.primary is not None
    assert c.primary.pixels[:2, :2].tolist() == [[8, 7], [7, 8]]
    c.apply(copy_of(indexed(BitmapFlags.PAL_FROM_CACHE, None, 9)))
    assert c.primary.pixels[:2, :2].tolist() == [[7, 8], [8, 7]]


@pytest.mark.parametrize(("fmt", "color", "expect"), [
    (SurfaceFormat.RGB565, 0xFFFF, 0xFFFFFF), (SurfaceFormat.RGB565, 0xF800, 0xFF0000),
    (SurfaceFormat.RGB555, 0x03E0, 0x00FF00), (SurfaceFormat.XRGB32, 0x123456, 0x123456),
])
def test_brush_colours_are_in_the_surface_format(fmt: int, color: int, expect: int) -> None:
    c = Canvas()
    c.apply(m.SurfaceCreate(0, 4, 4, fmt, SurfaceFlags.PRIMARY))
    c.apply(m.DrawFill(base(rect(0, 0, 4, 4)), m.Brush(BrushType.SOLID, color), Ropd.OP_PUT,
                       m.NO_MASK))
    assert c.primary is not None and int(c.primary.pixels[1, 1]) == expect


def test_bitmap_must_match_its_descriptor() -> None:
    c = canvas()
    image = bitmap(np.zeros((2, 2), np.uint32))
    lying = m.Image(m.ImageDescriptor(0, ImageType.BITMAP, 0, 1, 1), image.payload)
    with pytest.raises(ProtocolError, match="bitmap of 2x2 in an image of 1x1"):
        c.apply(copy_of(lying))


def test_surface_memory_is_bounded() -> None:
    c = canvas()
    with pytest.raises(ProtocolError, match="MiB"):
        for surface_id in range(1, 10):
            c.apply(m.SurfaceCreate(surface_id, 16384, 16384, 32, 0))


@pytest.mark.parametrize(("msg_type", "expect"), [
    (m.DrawBlackness, 0), (m.DrawWhiteness, 0xFFFFFF), (m.DrawInvers, 0xFF00FF),
])
def test_paint_ops(msg_type: type, expect: int) -> None:
    c = canvas()
    assert c.primary is not None
    c.primary.pixels[:] = 0x00FF00
    c.apply(msg_type(base(rect(0, 0, 4, 4)), m.NO_MASK))
    assert int(c.primary.pixels[1, 1]) & 0xFFFFFF == expect
    assert int(c.primary.pixels[5, 5]) == 0x00FF00


def test_blend_applies_its_rop() -> None:
    c = canvas()
    assert c.primary is not None
    c.primary.pixels[:] = 0x0F0F0F
    c.apply(m.DrawBlend(base(rect(0, 0, 2, 2)), bitmap(np.full((2, 2), 0xFF00FF, np.uint32)),
                        rect(0, 0, 2, 2), Ropd.OP_XOR, 0, m.NO_MASK))
    assert int(c.primary.pixels[0, 0]) == 0xF00FF0


def test_transparent_keys_on_true_color() -> None:
    c = canvas()
    assert c.primary is not None
    c.primary.pixels[:] = 7
    src = np.array([[0x123456, 0xABCDEF]], np.uint32)
    c.apply(m.DrawTransparent(base(rect(0, 0, 2, 1)), bitmap(src), rect(0, 0, 2, 1),
                              0xDEAD, 0x123456))
    assert c.primary.pixels[0, :2].tolist() == [7, 0xABCDEF]


@pytest.mark.parametrize(("flags", "src", "alpha", "expect"), [
    (0, 0x00FF0000, 255, 0xFF0000),  # opaque source, full alpha: a copy
    (0, 0x00FF0000, 128, 0x80007F),  # half of red over blue (pixman rounding)
    (AlphaFlags.SRC_SURFACE_HAS_ALPHA, 0x80800000, 255, 0x80007F),  # premultiplied 50% red
])
def test_alpha_blend(flags: int, src: int, alpha: int, expect: int) -> None:
    c = canvas()
    assert c.primary is not None
    c.primary.pixels[:] = 0x0000FF
    c.apply(m.DrawAlphaBlend(base(rect(0, 0, 1, 1)), flags, alpha,
                             bitmap(np.array([[src]], np.uint32)), rect(0, 0, 1, 1)))
    assert int(c.primary.pixels[0, 0]) & 0xFFFFFF == expect


@pytest.mark.parametrize(("code", "expect"), [
    (0xCC, 0x00F0F0),  # SRCCOPY
    (0xF0, 0x0000FF),  # PATCOPY
    (0x66, 0x00F0F0 ^ 0x0F0F00),  # SRCINVERT: source xor dest
    (0x00, 0x000000),  # BLACKNESS
])
def test_rop3_truth_tables(code: int, expect: int) -> None:
    c = canvas()
    assert c.primary is not None
    c.primary.pixels[:] = 0x0F0F00
    c.apply(m.DrawRop3(base(rect(0, 0, 1, 1)), bitmap(np.array([[0x00F0F0]], np.uint32)),
                       rect(0, 0, 1, 1), m.Brush(BrushType.SOLID, 0x0000FF), code, 0,
                       m.NO_MASK))
    assert int(c.primary.pixels[0, 0]) & 0xFFFFFF == expect


@pytest.mark.parametrize(("ropd", "expect"), [
    (Ropd.OP_AND, 0x00F0F0 & 0x0000FF),  # brush AND image
    (Ropd.OP_OR | Ropd.INVERS_SRC, ~0x00F0F0 & 0xFFFFFF | 0x0000FF),  # INVERS_SRC: the image
])
def test_opaque_puts_the_image_then_the_brush(ropd: int, expect: int) -> None:
    c = canvas()
    c.apply(m.DrawOpaque(base(rect(0, 0, 1, 1)), bitmap(np.array([[0x00F0F0]], np.uint32)),
                         rect(0, 0, 1, 1), m.Brush(BrushType.SOLID, 0x0000FF), ropd, 0,
                         m.NO_MASK))
    assert c.primary is not None and int(c.primary.pixels[0, 0]) & 0xFFFFFF == expect


def mask_image(rows: list[str]) -> m.Image:
    """A 1-bit big-endian mask from '#.' strings."""
    width = len(rows[0])
    stride = (width + 7) // 8
    data = b"".join(int(r.replace("#", "1").replace(".", "0").ljust(stride * 8, "0"), 2)
                    .to_bytes(stride, "big") for r in rows)
    return m.Image(m.ImageDescriptor(0, ImageType.BITMAP, 0, width, len(rows)),
                   m.BitmapData(BitmapFormat.BIT1_BE, BitmapFlags.TOP_DOWN, width, len(rows),
                                stride, None, 0, memoryview(data)))


@pytest.mark.parametrize(("flags", "expect"), [
    (0, [[1, 0, 0], [0, 1, 0], [0, 0, 0]]),
    (1, [[0, 1, 0], [1, 0, 0], [0, 0, 0]]),  # INVERS; outside the 2x2 mask: never drawn
])
def test_masks_limit_fills(flags: int, expect: list[list[int]]) -> None:
    c = canvas()
    mask = m.QMask(flags, m.Point(1, 0), mask_image([".#.", "..#"]))
    c.apply(m.DrawFill(base(rect(0, 0, 3, 3)), m.Brush(BrushType.SOLID, 1), Ropd.OP_PUT, mask))
    assert c.primary is not None and c.primary.pixels[:3, :3].tolist() == expect


def test_masks_limit_copies() -> None:
    c = canvas()
    src = np.full((2, 2), 9, np.uint32)
    c.apply(m.DrawCopy(base(rect(0, 0, 2, 2)), bitmap(src), rect(0, 0, 2, 2), Ropd.OP_PUT, 0,
                       m.QMask(0, m.Point(0, 0), mask_image(["#.", ".#"]))))
    assert c.primary is not None and c.primary.pixels[:2, :2].tolist() == [[9, 0], [0, 9]]


def test_mask_must_be_one_bit() -> None:
    c = canvas()
    mask = m.QMask(0, m.Point(0, 0), bitmap(np.zeros((2, 2), np.uint32)))
    with pytest.raises(ProtocolError, match="1 bit"):
        c.apply(m.DrawFill(base(rect(0, 0, 2, 2)), m.Brush(BrushType.SOLID, 1), Ropd.OP_PUT,
                           mask))
