"""STROKE, TEXT, COMPOSITE and pattern brushes.

Line grids are what spice-common's lines.c draws for the same input (its X11-derived
zero-width and dashed-line code, run on these paths); the rest is checked against plain
numpy references written out here, or against values pixman computes.
"""

from __future__ import annotations

import numpy as np
import pytest

from spicebox.canvas.canvas import Canvas
from spicebox.canvas.composite import Op
from spicebox.canvas.surface import Box
from spicebox.spice import messages as m
from spicebox.spice.constants import (
    BitmapFlags,
    BitmapFormat,
    BrushType,
    ClipType,
    CompositeFlags,
    ImageType,
    LineFlags,
    PathFlags,
    Ropd,
    StringFlags,
    SurfaceFlags,
    SurfaceFormat,
)
from spicebox.spice.errors import ProtocolError, Unsupported
from spicebox.spice.wire import Message

F = 16  # one pixel in 28.4 fixed point
FIGURE = PathFlags.BEGIN | PathFlags.END
SOLID_1 = m.Brush(BrushType.SOLID, 1)
NO_BRUSH = m.Brush(BrushType.NONE)
PLAIN = m.LineAttr(0)
NO_AREA = m.Rect(0, 0, 0, 0)


def screen(width: int, height: int, fill: int = 0, fmt: int = SurfaceFormat.XRGB32) -> Canvas:
    c = Canvas()
    c.apply(m.SurfaceCreate(0, width, height, fmt, SurfaceFlags.PRIMARY))
    assert c.primary is not None
    c.primary.pixels[:] = fill
    return c


def pixels(c: Canvas, surface_id: int = 0) -> np.ndarray:
    return c.surfaces[surface_id].pixels


def box(left: int, top: int, right: int, bottom: int) -> m.Rect:
    return m.Rect(top, left, bottom, right)


def base(rect: m.Rect, *clips: m.Rect, surface_id: int = 0) -> m.DisplayBase:
    return m.DisplayBase(surface_id, rect,
                         m.Clip(ClipType.RECTS if clips else ClipType.NONE, clips))


def grid(c: Canvas, background: int = 0) -> list[str]:
    return ["".join("." if v == background else "#" for v in row) for row in pixels(c)]


def bitmap(values: np.ndarray, fmt: int = BitmapFormat.BIT32) -> m.Image:
    h, w = values.shape
    data = memoryview(values.astype("<u4").tobytes())
    return m.Image(m.ImageDescriptor(1, ImageType.BITMAP, 0, w, h),
                   m.BitmapData(fmt, BitmapFlags.TOP_DOWN, w, h, w * 4, None, 0, data))


# --- STROKE -----------------------------------------------------------------------------

def segment(flags: int, *points: tuple[int, int]) -> m.PathSegment:
    return m.PathSegment(flags, memoryview(np.array(points, "<i4").reshape(-1).tobytes()))


def stroke(c: Canvas, *segments: m.PathSegment, attr: m.LineAttr = PLAIN,
           brush: m.Brush = SOLID_1, mode: int = Ropd.OP_PUT,
           clips: tuple[m.Rect, ...] = ()) -> Box | None:
    height, width = pixels(c).shape
    return c.apply(m.DrawStroke(base(box(0, 0, width, height), *clips), m.Path(segments),
                                attr, brush, mode, mode))


def line(width: int, height: int, *points: tuple[int, int], style: tuple[int, ...] = (),
         flags: int = 0) -> list[str]:
    c = screen(width, height)
    attr = m.LineAttr(LineFlags.STYLED | flags, style) if style else m.LineAttr(0)
    stroke(c, segment(FIGURE, *[(x * F, y * F) for x, y in points]), attr=attr)
    return grid(c)


@pytest.mark.parametrize(("points", "expect"), [
    # Octant 8 steps along x on ties, octant 4 (the same line drawn back) on y: X's bias.
    (((0, 0), (7, 3)), ["##......", "..##....", "....##..", "......#."]),
    (((7, 3), (0, 0)), [".#......", "..##....", "....##..", "......##"]),
])
def test_thin_lines_follow_the_x_server_bresenham(points: tuple[tuple[int, int], ...],
                                                  expect: list[str]) -> None:
    assert line(8, 4, *points) == expect


@pytest.mark.parametrize(("points", "expect"), [
    (((1, 0), (3, 6)), [".#...", ".#...", "..#..", "..#..", "..#..", "...#.", "....."]),
    (((3, 6), (1, 0)), [".....", ".#...", "..#..", "..#..", "..#..", "...#.", "...#."]),
])
def test_steep_lines(points: tuple[tuple[int, int], ...], expect: list[str]) -> None:
    assert line(5, 7, *points) == expect


def test_horizontal_vertical_and_diagonal_lines_leave_out_their_last_pixel() -> None:
    assert line(6, 1, (1, 0), (5, 0)) == [".####."]
    assert line(1, 5, (0, 4), (0, 1)) == [".", ".", "#", "#", "#"]  # upwards: from row 4
    assert line(4, 4, (0, 0), (3, 3)) == ["#...", ".#..", "..#.", "...."]


def test_28_4_points_round_half_down() -> None:
    c = screen(8, 4)
    # (0.5, 0.5) -> (0, 0); (6.5625, 2.5) -> (7, 2)
    stroke(c, segment(FIGURE, (8, 8), (105, 40)))
    assert grid(c) == ["##......", "..####..", "......#.", "........"]


@pytest.mark.parametrize(("style", "flags", "expect"), [
    ((3 * F, 2 * F), 0, "###..###..##"),
    # START_WITH_GAP: the first length is a gap.
    ((3 * F, 2 * F), LineFlags.START_WITH_GAP, "...##...##.."),
])
def test_dashes(style: tuple[int, ...], flags: int, expect: str) -> None:
    assert line(12, 1, (0, 0), (12, 0), style=style, flags=flags) == [expect]


def test_dashes_along_slanted_lines_are_thin_polygons() -> None:
    assert line(10, 10, (0, 0), (9, 9), style=(2 * F, 2 * F)) == [
        "#.........", ".#........", "..........", "...#......", "....#.....", "..........",
        "......#...", ".......#..", "..........", ".........."]
    assert line(6, 9, (1, 0), (4, 8), style=(3 * F, F)) == [
        ".#....", ".#....", "..#...", "......", "..##..", "...#..", "...#..", "......",
        "......"]


def test_dashes_continue_round_a_corner() -> None:
    assert line(8, 6, (1, 1), (6, 1), (6, 5), style=(4 * F, F)) == [
        "........", ".####.#.", "......#.", "......#.", "......#.", "........"]


def test_closed_dashed_figure_with_xor_touches_each_pixel_once() -> None:
    c = screen(7, 6)
    stroke(c, segment(FIGURE | PathFlags.CLOSE, (F, F), (5 * F, F), (5 * F, 4 * F), (F, 4 * F)),
           attr=m.LineAttr(LineFlags.STYLED, (5 * F, F)), mode=Ropd.OP_XOR)
    assert grid(c) == [".......", ".#####.", ".#.....", ".....#.", ".#####.", "......."]


def test_closed_figure() -> None:
    c = screen(8, 6)
    stroke(c, segment(FIGURE | PathFlags.CLOSE, (F, F), (6 * F, F), (F, 5 * F)))
    assert grid(c) == ["........", ".######.", ".#...#..", ".#.##...", ".##.....", ".#......"]


def test_bezier_curves_are_flattened_as_spice_gtk_does() -> None:
    c = screen(12, 8)
    stroke(c, segment(PathFlags.BEGIN, (0, 7 * F)),
           segment(PathFlags.END | PathFlags.BEZIER, (0, 0), (11 * F, 0), (11 * F, 7 * F)))
    assert grid(c) == [
        "............", "............", "....###.....", "..##...###..", ".#........#.",
        ".#........#.", "#..........#", "#..........."]


def test_crossing_xor_lines_cancel_where_they_cross() -> None:
    c = screen(7, 5, fill=0x0F0F0F)
    damage = stroke(c, segment(FIGURE, (0, 2 * F), (7 * F, 2 * F)),
                    segment(FIGURE, (3 * F, 0), (3 * F, 5 * F)),
                    brush=m.Brush(BrushType.SOLID, 0xFFFFFF), mode=Ropd.OP_XOR)
    assert damage == Box(0, 0, 7, 5)
    assert grid(c, 0x0F0F0F) == ["...#...", "...#...", "###.###", "...#...", "...#..."]


def test_fore_mode_is_a_rop_on_the_brush() -> None:
    c = screen(4, 1, fill=0x00FF00)
    stroke(c, segment(FIGURE, (0, 0), (4 * F, 0)), brush=m.Brush(BrushType.SOLID, 0x0000FF),
           mode=Ropd.OP_OR | Ropd.INVERS_BRUSH)
    assert pixels(c)[0, 0] == 0x00FF00 | ~np.uint32(0x0000FF)


def test_stroke_stays_inside_its_clip() -> None:
    c = screen(8, 1)
    stroke(c, segment(FIGURE, (0, 0), (8 * F, 0)), clips=(box(1, 0, 3, 1), box(5, 0, 6, 1)))
    assert grid(c) == [".##..#.."]


def test_stroke_pattern_tiles_from_the_pattern_position() -> None:
    c = screen(6, 1)
    tile = np.array([[10, 20, 30]], np.uint32)
    brush = m.Brush(BrushType.PATTERN, pattern=m.Pattern(bitmap(tile), m.Point(1, 0)))
    stroke(c, segment(FIGURE, (0, 0), (6 * F, 0)), brush=brush)
    assert pixels(c)[0].tolist() == tile[0, (np.arange(6) - 1) % 3].tolist()


def test_invisible_stroke_costs_nothing_and_damages_nothing() -> None:
    c = screen(4, 4)
    assert stroke(c, segment(FIGURE, (100 * F, 0), (200 * F, 9 * F))) is None
    assert not pixels(c).any()


@pytest.mark.parametrize("msg", [
    m.DrawStroke(base(box(0, 0, 4, 4)), m.Path((segment(FIGURE),)), m.LineAttr(0), SOLID_1,
                 8, 8),
    m.DrawStroke(base(box(0, 0, 4, 4)), m.Path((segment(PathFlags.BEZIER, (0, 0)),)),
                 m.LineAttr(0), SOLID_1, 8, 8),
    m.DrawStroke(base(box(0, 0, 4, 4)),
                 m.Path((segment(FIGURE | PathFlags.BEZIER, (0, 0), (F, F)),)),
                 m.LineAttr(0), SOLID_1, 8, 8),
    m.DrawStroke(base(box(0, 0, 4, 4)), m.Path((segment(FIGURE, (0, 0), (F, F)),)),
                 m.LineAttr(LineFlags.STYLED, None), SOLID_1, 8, 8),
    m.DrawStroke(base(box(0, 0, 4, 4)), m.Path((segment(FIGURE, (0, 0), (F, F)),)),
                 m.LineAttr(LineFlags.STYLED, (0, 4)), SOLID_1, 8, 8),
    m.DrawStroke(base(box(0, 0, 4, 4)), None, m.LineAttr(0), SOLID_1, 8, 8),
    # A dotted line a few hundred million pixels long.
    m.DrawStroke(base(box(0, 0, 4, 4)), m.Path((segment(FIGURE, (-2**30, 0), (2**30, 0)),)),
                 m.LineAttr(LineFlags.STYLED, (F,)), SOLID_1, 8, 8),
])
def test_malformed_strokes_are_protocol_errors(msg: Message) -> None:
    with pytest.raises(ProtocolError):
        screen(4, 4).apply(msg)


# --- TEXT -------------------------------------------------------------------------------

def glyph(x: int, y: int, rows: list[list[int]], bpp: int) -> m.RasterGlyph:
    """A glyph at (x, y) from coverage rows (top first), packed as the wire wants: rows
    bottom-up, ``bpp`` bits a pixel with the leftmost in the high bits."""
    width = len(rows[0])
    packed = []
    for row in reversed(rows):
        bits = "".join(format(v, f"0{bpp}b") for v in row)
        bits += "0" * (-len(bits) % 8)
        packed.append(int(bits, 2).to_bytes(len(bits) // 8, "big"))
    return m.RasterGlyph(m.Point(x, y), m.Point(0, 0), width, len(rows),
                         memoryview(b"".join(packed)))


def text(c: Canvas, flags: int, *glyphs: m.RasterGlyph, fore: m.Brush = SOLID_1,
         back: m.Brush = NO_BRUSH, back_area: m.Rect = NO_AREA,
         fore_mode: int = Ropd.OP_PUT) -> Box | None:
    height, width = pixels(c).shape
    return c.apply(m.DrawText(base(box(0, 0, width, height)), m.String(flags, glyphs),
                              back_area, fore, back, fore_mode, Ropd.OP_PUT))


def test_a1_glyphs_put_the_colour_on_set_bits() -> None:
    c = screen(6, 3)
    damage = text(c, StringFlags.RASTER_A1,
                  glyph(0, 0, [[1, 0, 1], [0, 1, 0]], 1), glyph(3, 1, [[1, 1, 0], [0, 0, 1]], 1))
    assert grid(c) == ["#.#...", ".#.##.", ".....#"]
    assert damage == Box(0, 0, 6, 3)


def test_a4_coverage_blends_and_a_full_nibble_is_240() -> None:
    c = screen(3, 1, fill=0x000000FF)
    text(c, StringFlags.RASTER_A4, glyph(0, 0, [[15, 8, 0]], 4),
         fore=m.Brush(BrushType.SOLID, 0x00FF0000))

    def over(src: int, dst: int, cover: int) -> int:  # pixman: two rounded products
        def mul(a: int, b: int) -> int:
            t = a * b + 128
            return (t + (t >> 8)) >> 8
        return mul(src, cover) + mul(dst, 255 - cover)
    expect = [over(0xFF, 0, a) << 16 | over(0, 0xFF, a) for a in (240, 128, 0)]
    assert (pixels(c)[0] & 0xFFFFFF).tolist() == expect


def test_a8_overlapping_glyphs_keep_the_larger_coverage() -> None:
    c = screen(3, 1)
    text(c, StringFlags.RASTER_A8, glyph(0, 0, [[255, 10]], 8), glyph(1, 0, [[255, 40]], 8),
         fore=m.Brush(BrushType.SOLID, 0xFFFFFF))
    assert (pixels(c)[0] & 0xFF).tolist() == [255, 255, 40]


def test_back_area_is_put_with_the_back_brush_first() -> None:
    c = screen(4, 2)
    text(c, StringFlags.RASTER_A1, glyph(1, 0, [[1]], 1), back_area=box(0, 0, 3, 1),
         back=m.Brush(BrushType.SOLID, 7))
    assert pixels(c).tolist() == [[7, 1, 7, 0], [0, 0, 0, 0]]


def test_text_with_a_background_and_another_fore_mode_draws_nothing() -> None:
    c = screen(4, 2)
    assert text(c, StringFlags.RASTER_A1, glyph(1, 0, [[1]], 1), back_area=box(0, 0, 3, 1),
                back=m.Brush(BrushType.SOLID, 7), fore_mode=Ropd.OP_XOR) is None
    assert not pixels(c).any()


def test_vector_text_draws_only_its_background() -> None:
    c = screen(3, 1)
    text(c, 0, back_area=box(0, 0, 2, 1), back=m.Brush(BrushType.SOLID, 5))
    assert pixels(c)[0].tolist() == [5, 5, 0]


def test_text_pattern_is_tiled_from_the_string_corner() -> None:
    c = screen(6, 1)
    tile = np.array([[0x10, 0x20, 0x30, 0x40]], np.uint32)
    brush = m.Brush(BrushType.PATTERN, pattern=m.Pattern(bitmap(tile), m.Point(1, 0)))
    text(c, StringFlags.RASTER_A1, glyph(2, 0, [[1, 1, 1, 1]], 1), fore=brush)
    # Pixel x shows tile pixel (x - string left - pattern x).
    expect = [0, 0, *tile[0, (np.arange(2, 6) - 2 - 1) % 4].tolist()]
    assert (pixels(c)[0] & 0xFFFFFF).tolist() == expect


# --- COMPOSITE --------------------------------------------------------------------------

def surface_image(surface_id: int) -> m.Image:
    return m.Image(m.ImageDescriptor(0, ImageType.SURFACE, 0, 1, 1), m.SurfaceImage(surface_id))


def with_surface(c: Canvas, surface_id: int, values: np.ndarray, fmt: int) -> m.Image:
    h, w = values.shape
    c.apply(m.SurfaceCreate(surface_id, w, h, fmt, 0))
    pixels(c, surface_id)[:] = values
    return surface_image(surface_id)


def composite(c: Canvas, op: int, src: m.Image, rect: m.Rect, mask: m.Image | None = None,
              flags: int = 0, src_transform: m.Transform | None = None,
              src_origin: tuple[int, int] = (0, 0), mask_origin: tuple[int, int] = (0, 0),
              clips: tuple[m.Rect, ...] = ()) -> Box | None:
    flags |= op
    if mask is not None:
        flags |= CompositeFlags.HAS_MASK
    if src_transform is not None:
        flags |= CompositeFlags.HAS_SRC_TRANSFORM
    return c.apply(m.DrawComposite(base(rect, *clips), flags, src, mask, src_transform, None,
                                   m.Point16(*src_origin), m.Point16(*mask_origin)))


def channels(v: np.ndarray) -> np.ndarray:
    return v.astype("<u4").view(np.uint8).reshape(*v.shape, 4).astype(np.int64)


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    t = a * b + 128
    result: np.ndarray = (t + (t >> 8)) >> 8
    return result


def test_over_an_argb_surface_onto_the_screen() -> None:
    rng = np.random.default_rng(5)
    alpha = rng.integers(0, 256, (3, 4), dtype=np.uint32)
    colour = rng.integers(0, 256, (3, 4, 3), dtype=np.uint32) * alpha[..., None] // 255
    src = alpha << 24 | colour[..., 2] << 16 | colour[..., 1] << 8 | colour[..., 0]
    dest = rng.integers(0, 1 << 24, (3, 4), dtype=np.uint32)
    c = screen(4, 3)
    pixels(c)[:] = dest
    damage = composite(c, Op.OVER, with_surface(c, 1, src, SurfaceFormat.ARGB32),
                       box(0, 0, 4, 3))
    s, d = channels(src), channels(dest)
    d[..., 3] = 255  # an xRGB destination reads as opaque
    expect = np.minimum(s + mul(d, 255 - s[..., 3:]), 255)
    assert damage == Box(0, 0, 4, 3)
    np.testing.assert_array_equal(channels(pixels(c))[..., :3], expect[..., :3])


# Source 0x80402010 onto 0xC0906030 (both ARGB surfaces): no mask, an a8 mask of 0x66 and a
# component-alpha mask of 0xFF336699, as pixman 0.42 computes them.
@pytest.mark.parametrize(("op", "plain", "masked", "component"), [
    (Op.SRC, 0x80402010, 0x331A0D06, 0x800D0D0A),
    (Op.OVER, 0xE0885028, 0xCD8D5A2C, 0xE08E5A2C),
    (Op.OVER_REVERSE, 0xE0A06834, 0xCD966331, 0xE0936332),
    (Op.IN, 0x6030180C, 0x26140A05, 0x600A0A08),
    (Op.IN_REVERSE, 0x60483018, 0x261D130A, 0x600F130E),
    (Op.OUT, 0x20100804, 0x0D060301, 0x20030302),
    (Op.OUT_REVERSE, 0x60483018, 0x9A734D26, 0x60814D22),
    (Op.ATOP, 0xC0784824, 0xC087572B, 0xC08B572A),
    (Op.ATOP_REVERSE, 0x8058381C, 0x3323160B, 0x80121610),
    (Op.XOR, 0x8058381C, 0xA7795027, 0x80845024),
    (Op.ADD, 0xFFD08040, 0xF3AA6D36, 0xFF9D6D3A),
    (Op.SATURATE, 0xFFB07038, 0xF4AA6D36, 0xFF9D6D38),
    (Op.MULTIPLY, 0xE07C441F, 0xCD885528, 0xE08B5526),
    (Op.SCREEN, 0xE0AC743D, 0xCD9B6835, 0xE0966838),
    (Op.OVERLAY, 0xE0A05022, 0xCD975A2A, 0xE0935A28),
    (Op.DIFFERENCE, 0xE0705028, 0xCD83592D, 0xE089592B),
    (Op.EXCLUSION, 0xE088683A, 0xCD8D6334, 0xE08E6336),
    (Op.COLOR_DODGE, 0xE0B87837, 0xCDA06A33, 0xE0986A34),
    (Op.COLOR_BURN, 0xE088371B, 0xCD8D5028, 0xE08E5024),
    (Op.SOFT_LIGHT, 0xE0A05C26, 0xCD965E2C, 0xE0935E2A),
    (Op.HSL_HUE, 0xE0A56538, 0xCD9B5C43, 0xC0906030),
    (Op.HSL_LUMINOSITY, 0xE089511D, 0xCD89562A, 0xC0906030),
    (0x13, 0xFF9F5F2F, 0xF4AA6D36, 0xFF9D6D36),  # DISJOINT_OVER
    (0x29, 0xC0704020, 0xC0835329, 0xC08A5326),  # CONJOINT_ATOP
])
def test_operators_match_pixman(op: int, plain: int, masked: int, component: int) -> None:
    for mask, flags, expect in ((None, 0, plain), (0x66000000, 0, masked),
                                (0xFF336699, CompositeFlags.COMPONENT_ALPHA, component)):
        c = Canvas()
        c.apply(m.SurfaceCreate(0, 1, 1, SurfaceFormat.ARGB32, SurfaceFlags.PRIMARY))
        pixels(c)[:] = 0xC0906030
        src = with_surface(c, 1, np.array([[0x80402010]], np.uint32), SurfaceFormat.ARGB32)
        mask_image = None if mask is None else \
            with_surface(c, 2, np.array([[mask]], np.uint32), SurfaceFormat.ARGB32)
        composite(c, op, src, box(0, 0, 1, 1), mask_image, flags)
        assert int(pixels(c)[0, 0]) == expect, hex(expect)


def test_saturate_over_an_opaque_source_is_pixmans_over_reverse() -> None:
    c = Canvas()
    c.apply(m.SurfaceCreate(0, 1, 1, SurfaceFormat.ARGB32, SurfaceFlags.PRIMARY))
    pixels(c)[:] = 0x80402010
    src = with_surface(c, 1, np.array([[0x604020]], np.uint32), SurfaceFormat.XRGB32)
    composite(c, Op.SATURATE, src, box(0, 0, 1, 1), flags=1 << 14)  # REPEAT_NORMAL
    assert int(pixels(c)[0, 0]) == 0xFF704020


@pytest.mark.parametrize(("fmt", "expect"), [
    (BitmapFormat.RGBA, 0x80007F),  # its alpha counts: half red over blue
    (BitmapFormat.BIT32, 0x800000),  # xRGB: the top byte is not alpha, the source is opaque
])
def test_image_operands_have_alpha_only_if_their_format_does(fmt: int, expect: int) -> None:
    c = screen(1, 1, fill=0x0000FF)
    composite(c, Op.OVER, bitmap(np.array([[0x80800000]], np.uint32), fmt), box(0, 0, 1, 1))
    assert int(pixels(c)[0, 0]) & 0xFFFFFF == expect


def test_a8_mask_surface_limits_a_source() -> None:
    c = screen(3, 1)
    src = with_surface(c, 1, np.full((1, 3), 0xFFFF0000, np.uint32), SurfaceFormat.ARGB32)
    mask = with_surface(c, 2, np.array([[255, 128, 0]], np.uint32), SurfaceFormat.A8)
    composite(c, Op.SRC, src, box(0, 0, 3, 1), mask)
    assert (pixels(c)[0] & 0xFFFFFF).tolist() == [0xFF0000, 0x800000, 0]


def test_a8_destination_keeps_only_alpha() -> None:
    c = screen(2, 1)
    c.apply(m.SurfaceCreate(3, 2, 1, SurfaceFormat.A8, 0))
    pixels(c, 3)[:] = [[100, 200]]
    src = with_surface(c, 1, np.full((1, 2), 0x80FFFFFF, np.uint32), SurfaceFormat.ARGB32)
    c.apply(m.DrawComposite(base(box(0, 0, 2, 1), surface_id=3), Op.ADD, src, None, None,
                            None, m.Point16(0, 0), m.Point16(0, 0)))
    assert pixels(c, 3)[0].tolist() == [228, 255]


def test_component_alpha_scales_each_channel() -> None:
    c = screen(1, 1)
    src = with_surface(c, 1, np.array([[0xFFFFFFFF]], np.uint32), SurfaceFormat.ARGB32)
    mask = with_surface(c, 2, np.array([[0xFF80FF00]], np.uint32), SurfaceFormat.ARGB32)
    composite(c, Op.OVER, src, box(0, 0, 1, 1), mask, CompositeFlags.COMPONENT_ALPHA)
    assert int(pixels(c)[0, 0]) & 0xFFFFFF == 0x80FF00


def scale(factor_16_16: int, tx: int = 0, ty: int = 0) -> m.Transform:
    return m.Transform(factor_16_16, 0, tx & 0xFFFFFFFF, 0, factor_16_16, ty & 0xFFFFFFFF)


def test_a_source_transform_scales_by_two_nearest() -> None:
    c = screen(4, 4)
    src = np.array([[1, 2], [3, 4]], np.uint32)
    composite(c, Op.SRC, with_surface(c, 1, src, SurfaceFormat.XRGB32), box(0, 0, 4, 4),
              src_transform=scale(1 << 15))
    np.testing.assert_array_equal(pixels(c), np.kron(src, np.ones((2, 2), np.uint32)))


def test_a_source_transform_translates() -> None:
    c = screen(3, 1)
    src = np.array([[1, 2, 3, 4, 5]], np.uint32)
    composite(c, Op.SRC, with_surface(c, 1, src, SurfaceFormat.XRGB32), box(0, 0, 3, 1),
              src_transform=scale(1 << 16, tx=2 << 16))
    assert pixels(c)[0].tolist() == [3, 4, 5]


def test_bilinear_upscale_weights_neighbours() -> None:
    c = Canvas()
    c.apply(m.SurfaceCreate(0, 4, 1, SurfaceFormat.ARGB32, SurfaceFlags.PRIMARY))
    src = with_surface(c, 1, np.array([[0xFF000000, 0xFFFFFFFF]], np.uint32),
                       SurfaceFormat.ARGB32)
    composite(c, Op.SRC, src, box(0, 0, 4, 1), src_transform=scale(1 << 15),
              flags=4 << 8 | 2 << 14)  # BILINEAR, REPEAT_PAD
    # Samples at x = 0.25, 0.75, 1.25, 1.75 take a quarter or three of the white pixel;
    # pixman weighs with 7-bit fractions and truncates.
    assert (pixels(c)[0] & 0xFF).tolist() == [0, 255 * 32 // 128, 255 * 96 // 128, 255]


@pytest.mark.parametrize(("repeat", "expect"), [
    (0, [0, 0, 1, 2, 3, 0, 0, 0]),  # NONE: transparent outside
    (1, [2, 3, 1, 2, 3, 1, 2, 3]),  # NORMAL
    (2, [1, 1, 1, 2, 3, 3, 3, 3]),  # PAD
    (3, [2, 1, 1, 2, 3, 3, 2, 1]),  # REFLECT
])
def test_repeat_modes(repeat: int, expect: list[int]) -> None:
    c = screen(8, 1)
    src = with_surface(c, 1, np.array([[1, 2, 3]], np.uint32), SurfaceFormat.XRGB32)
    composite(c, Op.SRC, src, box(0, 0, 8, 1), flags=repeat << 14, src_origin=(-2, 0))
    assert (pixels(c)[0] & 0xFFFFFF).tolist() == expect


def test_overlapping_clip_rectangles_composite_once() -> None:
    c = screen(3, 1, fill=0)
    src = with_surface(c, 1, np.full((1, 3), 0x80800000, np.uint32), SurfaceFormat.ARGB32)
    composite(c, Op.OVER, src, box(0, 0, 3, 1), clips=(box(0, 0, 2, 1), box(1, 0, 3, 1)))
    assert (pixels(c)[0] & 0xFFFFFF).tolist() == [0x800000] * 3


def test_composite_operands_must_exist() -> None:
    c = screen(2, 2)
    with pytest.raises(ProtocolError, match="image"):
        composite(c, Op.OVER, None, box(0, 0, 2, 2))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="operator"):
        composite(c, 0x0E, surface_image(0), box(0, 0, 2, 2))
    with pytest.raises(Unsupported, match="filter"):
        composite(c, Op.SRC, surface_image(0), box(0, 0, 2, 2), flags=5 << 8)


# --- pattern brushes --------------------------------------------------------------------

TILE = np.arange(1, 7, dtype=np.uint32).reshape(2, 3)


def pattern(x: int, y: int) -> m.Brush:
    return m.Brush(BrushType.PATTERN, pattern=m.Pattern(bitmap(TILE), m.Point(x, y)))


def tiled(width: int, height: int, x: int, y: int) -> np.ndarray:
    """TILE repeated so that its pixel (0, 0) lands on (x, y) of a surface."""
    rows = (np.arange(height) - y) % TILE.shape[0]
    cols = (np.arange(width) - x) % TILE.shape[1]
    result: np.ndarray = TILE[rows][:, cols]
    return result


def test_fill_pattern_tiles_from_its_position_in_surface_coordinates() -> None:
    c = screen(7, 5)
    c.apply(m.DrawFill(base(box(1, 1, 6, 4)), pattern(2, 1), Ropd.OP_PUT, m.NO_MASK))
    expect = np.zeros((5, 7), np.uint32)
    expect[1:4, 1:6] = tiled(7, 5, 2, 1)[1:4, 1:6]
    np.testing.assert_array_equal(pixels(c), expect)


def test_fill_pattern_with_a_rop_and_clip() -> None:
    c = screen(6, 2, fill=0xF0)
    c.apply(m.DrawFill(base(box(0, 0, 6, 2), box(2, 0, 5, 2)), pattern(-1, 0), Ropd.OP_XOR,
                       m.NO_MASK))
    expect = np.full((2, 6), 0xF0, np.uint32)
    expect[:, 2:5] ^= tiled(6, 2, -1, 0)[:, 2:5]
    np.testing.assert_array_equal(pixels(c), expect)


def test_opaque_with_a_pattern_brush() -> None:
    c = screen(4, 2)
    src = np.full((2, 4), 0xFF, np.uint32)
    c.apply(m.DrawOpaque(base(box(0, 0, 4, 2)), bitmap(src), box(0, 0, 4, 2), pattern(0, 0),
                         Ropd.OP_OR, 0, m.NO_MASK))
    np.testing.assert_array_equal(pixels(c), 0xFF | tiled(4, 2, 0, 0))


@pytest.mark.parametrize(("code", "combine"), [
    (0xF0, lambda p, s, d: p),  # PATCOPY
    (0x5A, lambda p, s, d: p ^ d),  # PATINVERT
    (0xCA, lambda p, s, d: (p & s) | (~p & d)),  # the pattern picks source or destination
])
def test_rop3_with_a_pattern_brush(code: int, combine: object) -> None:
    c = screen(5, 3, fill=0x0F0F)
    src = np.full((3, 5), 0x3333, np.uint32)
    c.apply(m.DrawRop3(base(box(0, 0, 5, 3)), bitmap(src), box(0, 0, 5, 3), pattern(1, 1),
                       code, 0, m.NO_MASK))
    expect = combine(tiled(5, 3, 1, 1), src, np.full((3, 5), 0x0F0F, np.uint32))  # type: ignore[operator]
    np.testing.assert_array_equal(pixels(c), expect)


def test_8_bit_alpha_bitmaps_are_a8_masks() -> None:
    # An a8 bitmap (BIT8_A) as the mask: its bytes are alpha, colour plays no part.
    c = screen(2, 1)
    white = bitmap(np.full((1, 2), 0xFFFFFFFF, np.uint32), BitmapFormat.RGBA)
    alpha = np.array([[0x80, 0x00]], np.uint8)
    mask = m.Image(m.ImageDescriptor(2, ImageType.BITMAP, 0, 2, 1),
                   m.BitmapData(BitmapFormat.BIT8_A, BitmapFlags.TOP_DOWN, 2, 1, 4, None, 0,
                                memoryview(alpha.tobytes() + b"\0\0")))
    composite(c, Op.OVER, white, box(0, 0, 2, 1), mask)
    assert pixels(c)[0].tolist() == [0x808080, 0]  # an x8r8g8b8 screen keeps no alpha
