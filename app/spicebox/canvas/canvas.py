"""The canvas executes display-channel messages on surfaces and reports what changed.

It is pure computation: no IO, no timing. The session feeds it messages and passes the
damage it returns to a presenter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..codecs import glz, lz, lz4, quic
from ..codecs.bitmap import decode_bitmap
from ..codecs.jpeg import decode_jpeg, decode_jpeg_into
from ..codecs.pixels import Pixels, from_rgb555, from_rgb565
from ..spice import messages as m
from ..spice.constants import (
    AlphaFlags,
    BitmapFlags,
    BitmapFormat,
    BrushType,
    ClipType,
    CompositeFlags,
    ImageFlags,
    ImageType,
    JpegAlphaFlags,
    ResourceType,
    Ropd,
    StreamFlags,
    SurfaceFlags,
    SurfaceFormat,
    VideoCodec,
)
from ..spice.errors import ProtocolError, Unsupported
from ..spice.wire import Message
from . import rop
from .brush import Paint, Tile, paint_over
from .composite import Format, Op, Picture, composite_region, div255
from .glyphs import string_box, string_mask
from .mask import Mask, mask_bits
from .monitors import Monitor
from .palettes import PaletteCache
from .pixmaps import PixmapCache
from .region import Region, disjoint
from .stroke import dash_pattern, polylines, stroke
from .surface import Box, Surface

MAX_SURFACE_SIDE = 16384  # larger than any real monitor; bounds what a server can allocate
MAX_IMAGE_PIXELS = 8192 * 8192  # one decoded image: 256 MiB
# All surfaces of one display channel together: an 8K primary plus generous off-screen
# surfaces, within what a 4 GiB board can give.
MAX_SURFACES_PIXELS = 128 * 1024 * 1024
MAX_STREAMS = 64  # spice-server's NUM_STREAMS is 50


class _Placement(NamedTuple):
    """Where a stream's frames go: the surface, the clipped boxes, the frame's box, and
    all of it as a drawing's base."""

    surface: Surface
    boxes: list[Box]
    box: Box
    base: m.DisplayBase


@dataclass
class _Stream:
    surface_id: int
    dest: m.Rect
    clip: m.Clip
    top_down: bool
    # Kept from frame to frame while the clip, the destination and the surface stay.
    placement: _Placement | None = None


_NO_COLOR = np.uint32(0)


class Canvas:
    """One display channel's surfaces, with the caches the channel announced (in pixels)."""

    def __init__(self, pixmap_cache_pixels: int = 0, glz_window_pixels: int = 0) -> None:
        self.surfaces: dict[int, Surface] = {}
        self.primary: Surface | None = None
        self.monitors: tuple[m.Head, ...] = ()
        self.image_types: Counter[int] = Counter()  # diagnostics: what the server really sends
        self.decoded_pixels: Counter[int] = Counter()  # per image type
        self.palettes = PaletteCache()
        self.pixmaps = PixmapCache(pixmap_cache_pixels)
        # Twice the window: the server counts it in its own units and moves its head
        # only after the image that needs the old one.
        self.glz = glz.GlzWindow(2 * glz_window_pixels)
        self.streams: dict[int, _Stream] = {}
        self.stream_frames = 0  # diagnostics: video frames drawn
        self.messages: Counter[type[Message]] = Counter()  # diagnostics: every message applied
        self._monitor_list: tuple[Monitor, ...] | None = None  # found again when None

    def apply(self, msg: Message) -> Box | None:
        """Execute one message; return the damaged box on the primary surface, if any."""
        self.messages[type(msg)] += 1
        handler = _HANDLERS.get(type(msg))
        if handler is None:
            return None
        return handler(self, msg)

    # --- surfaces ---------------------------------------------------------------------

    def _surface_create(self, msg: m.SurfaceCreate) -> Box | None:
        if not (0 < msg.width <= MAX_SURFACE_SIDE and 0 < msg.height <= MAX_SURFACE_SIDE):
            raise ProtocolError(f"surface {msg.surface_id} of {msg.width}x{msg.height} "
                                f"is out of range")
        replaced = self.surfaces.get(msg.surface_id)
        in_use = sum(s.width * s.height for s in self.surfaces.values() if s is not replaced)
        if in_use + msg.width * msg.height > MAX_SURFACES_PIXELS:
            raise ProtocolError(f"surface {msg.surface_id} of {msg.width}x{msg.height} would "
                                f"take surface memory past {MAX_SURFACES_PIXELS * 4 >> 20} MiB")
        surface = Surface(msg.surface_id, msg.width, msg.height, msg.format,
                          bool(msg.flags & SurfaceFlags.PRIMARY))
        self.surfaces[msg.surface_id] = surface
        if surface.primary:
            self.primary, self._monitor_list = surface, None
            return surface.bounds
        return None

    def _surface_destroy(self, msg: m.SurfaceDestroy) -> Box | None:
        surface = self.surfaces.pop(msg.surface_id, None)
        if surface is not None and surface is self.primary:
            self.primary, self._monitor_list = None, None
        return None

    def _mode(self, msg: m.DisplayMode) -> Box | None:
        # Servers from before off-screen surfaces announce the screen with MODE instead.
        return self._surface_create(m.SurfaceCreate(0, msg.x_res, msg.y_res, 32,
                                                    SurfaceFlags.PRIMARY))

    def _reset(self, msg: m.DisplayReset) -> Box | None:
        # What spice-gtk does: the server will redraw, so start from a clear screen.
        self.palettes.clear()
        if self.primary is None:
            return None
        self.primary.pixels[:] = 0
        return self.primary.bounds

    def _inval_list(self, msg: m.InvalList) -> Box | None:
        for resource in msg.resources:
            if resource.type == ResourceType.PIXMAP:
                self.pixmaps.remove(resource.id)
        return None

    def _inval_all_pixmaps(self, msg: m.InvalAllPixmaps) -> Box | None:
        self.pixmaps.clear()
        return None

    def _inval_palette(self, msg: m.InvalPalette) -> Box | None:
        self.palettes.invalidate(msg.id)
        return None

    def _inval_all_palettes(self, msg: m.InvalAllPalettes) -> Box | None:
        self.palettes.clear()
        return None

    def _monitors_config(self, msg: m.MonitorsConfig) -> Box | None:
        self.monitors, self._monitor_list = msg.heads, None
        return self.primary.bounds if self.primary else None

    def monitor_list(self) -> tuple[Monitor, ...]:
        """The heads shown from this channel's primary surface, by head id; the whole
        surface when the server sent no usable layout. The session asks at every frame:
        they are found again only when the primary surface or the layout has changed."""
        if self._monitor_list is None:
            self._monitor_list = self._find_monitors()
        return self._monitor_list

    def _find_monitors(self) -> tuple[Monitor, ...]:
        primary = self.primary
        if primary is None:
            return ()
        areas = []
        for head in sorted(self.monitors, key=lambda h: h.id):
            area = Box(head.x, head.y, head.x + head.width, head.y + head.height)
            if head.surface_id == primary.id and area.intersect(primary.bounds) == area \
                    and not area.empty:
                areas.append(area)
        return tuple(Monitor(primary, a) for a in areas or [primary.bounds])

    # --- draw operations --------------------------------------------------------------

    def _surface(self, surface_id: int) -> Surface:
        try:
            return self.surfaces[surface_id]
        except KeyError:
            raise ProtocolError(f"use of unknown surface {surface_id}") from None

    def _target(self, base: m.DisplayBase) -> tuple[Surface, list[Box]]:
        """The surface and the clipped boxes a draw may touch."""
        surface = self._surface(base.surface_id)
        box = Box.of(base.box).intersect(surface.bounds)
        if base.clip.type == ClipType.RECTS:  # possibly no rects at all: nothing visible
            clipped = [box.intersect(Box.of(r)) for r in base.clip.rects]
        else:
            clipped = [box]
        return surface, disjoint([c for c in clipped if not c.empty])

    def _damage(self, surface: Surface, boxes: Sequence[Box]) -> Box | None:
        if surface is not self.primary or not boxes:
            return None
        total = boxes[0]
        for b in boxes[1:]:
            total = total.union(b)
        return total

    def _draw_image(self, base: m.DisplayBase, image: m.Image | None, src_area: m.Rect,
                    mask: m.QMask | None, draw: Draw) -> Box | None:
        """The shared path of the ops that draw a source image: clip, decode, scale."""
        surface, boxes = self._target(base)
        if image is None:
            raise ProtocolError("image drawing without a source image")
        draw_masked = self._masked(draw, mask, base)  # even unseen, a mask may be cached
        if isinstance(draw, _Located):
            draw_masked = draw.around(draw_masked)
        if not boxes:
            if _changes_state(image):
                self._image(image)
            return None
        src = self._image(image)
        a = Box.of(src_area)
        if not (0 <= a.left < a.right <= src.shape[1] and 0 <= a.top < a.bottom <= src.shape[0]):
            raise ProtocolError(f"source area {a} outside its {src.shape[1]}x"
                                f"{src.shape[0]} image")
        _blit(surface, boxes, Box.of(base.box), src[a.top:a.bottom, a.left:a.right],
              draw_masked)
        return self._damage(surface, boxes)

    def _copy(self, msg: m.DrawCopy | m.DrawBlend) -> Box | None:
        # BLEND differs from COPY only in the ROP it is sent with.
        ropd = msg.rop_descriptor
        if ropd == Ropd.OP_PUT and isinstance(msg, m.DrawCopy):
            damage = self._copy_in_place(msg)
            if damage is not None:
                return damage
        return self._draw_image(msg.base, msg.src_bitmap, msg.src_area, msg.mask,
                                lambda dst, src: _rop(dst, src, ropd))

    def _copy_in_place(self, msg: m.DrawCopy) -> Box | None:
        """The default policy's common case, an unclipped whole-width LZ4 COPY, decoded
        straight into the surface rows it covers: a frame copy less. None when the draw
        is anything else."""
        image = msg.src_bitmap
        if image is None or not isinstance(image.payload, m.BinaryData):
            return None
        d, data = image.descriptor, image.payload.data
        if (d.type != ImageType.LZ4 or d.flags & _CACHING or msg.mask.bitmap is not None
                or msg.base.clip.type != ClipType.NONE or not lz4.decodes_in_place(data)
                or msg.src_area != m.Rect(0, 0, d.height, d.width)):
            return None
        surface = self._surface(msg.base.surface_id)
        box = Box.of(msg.base.box)
        if box != Box(0, box.top, d.width, box.top + d.height) or d.width != surface.width \
                or not 0 <= box.top < box.bottom <= surface.height:
            return None
        lz4.decode_lz4(data, d.width, d.height, into=surface.pixels[box.top:box.bottom])
        self.image_types[d.type] += 1
        self.decoded_pixels[d.type] += d.width * d.height
        return self._damage(surface, [box])

    def _brush(self, brush: m.Brush, base: m.DisplayBase) -> Paint:
        """What a brush puts on the target surface. A pattern's image is decoded even if
        the draw turns out invisible: spice-gtk touches it too, for the caches."""
        if brush.type == BrushType.PATTERN:
            pattern = brush.pattern
            if pattern is None or pattern.image is None:
                raise ProtocolError("pattern brush without a pattern image")
            return Tile(self._image(pattern.image), pattern.pos.x, pattern.pos.y)
        # A NONE brush paints colour 0, which matters for ROPs that read it.
        return _brush_color(self._surface(base.surface_id), brush.color)

    def _opaque(self, msg: m.DrawOpaque) -> Box | None:
        # The image is put first, then the brush is combined over it.
        paint, ropd = self._brush(msg.brush, msg.base), msg.rop_descriptor

        def draw_at(box: Box) -> Draw:
            brush = paint_over(paint, box)

            def draw(dst: Pixels, src: Pixels) -> None:
                dst[...] = src
                _rop(dst, brush, ropd, src_invert=Ropd.INVERS_BRUSH,
                     dest_invert=Ropd.INVERS_SRC)
            return draw
        return self._draw_image(msg.base, msg.src_bitmap, msg.src_area, msg.mask,
                                _Located(draw_at))

    def _rop3(self, msg: m.DrawRop3) -> Box | None:
        paint, code = self._brush(msg.brush, msg.base), msg.rop3

        def draw_at(box: Box) -> Draw:
            pattern = paint_over(paint, box)
            return lambda dst, src: _ternary(dst, src, pattern, code)
        return self._draw_image(msg.base, msg.src_bitmap, msg.src_area, msg.mask,
                                _Located(draw_at))

    def _transparent(self, msg: m.DrawTransparent) -> Box | None:
        # spice-gtk keys on true_color (the colour in the surface's format), not src_color.
        key = np.uint32(msg.true_color & 0xFFFFFF)

        def colorkey(dst: Pixels, src: Pixels) -> None:
            np.copyto(dst, src, where=(src & 0xFFFFFF) != key)
        return self._draw_image(msg.base, msg.src_bitmap, msg.src_area, None, colorkey)

    def _alpha_blend(self, msg: m.DrawAlphaBlend) -> Box | None:
        if msg.alpha == 0:
            return None
        with_alpha = bool(msg.alpha_flags & AlphaFlags.SRC_SURFACE_HAS_ALPHA)
        overall = msg.alpha
        return self._draw_image(msg.base, msg.src_bitmap, msg.src_area, None,
                                lambda dst, src: _over(dst, src, with_alpha, overall))

    def _paint(self, base: m.DisplayBase, mask: m.QMask, ropd: int,
               paint: Paint = _NO_COLOR) -> Box | None:
        """FILL and the ops that need no colour at all (BLACKNESS, WHITENESS, INVERS)."""
        surface, boxes = self._target(base)
        located = _Located(lambda box: lambda dst, _src: _rop(
            dst, paint_over(paint, box), ropd, src_invert=Ropd.INVERS_BRUSH))
        draw = located.around(self._masked(located, mask, base))
        if not boxes:
            return None
        for b in boxes:
            view = surface.pixels[b.top:b.bottom, b.left:b.right]
            draw(view, view, b)  # painting has no source; the view stands in for it
        return self._damage(surface, boxes)

    def _blackness(self, msg: m.DrawBlackness) -> Box | None:
        return self._paint(msg.base, msg.mask, Ropd.OP_BLACKNESS)

    def _whiteness(self, msg: m.DrawWhiteness) -> Box | None:
        return self._paint(msg.base, msg.mask, Ropd.OP_WHITENESS)

    def _invers(self, msg: m.DrawInvers) -> Box | None:
        return self._paint(msg.base, msg.mask, Ropd.OP_INVERS)

    # --- video streams ----------------------------------------------------------------

    def _stream_create(self, msg: m.StreamCreate) -> Box | None:
        if msg.codec_type != VideoCodec.MJPEG:
            raise Unsupported(f"video codec {msg.codec_type} is not played")
        self._surface(msg.surface_id)
        if len(self.streams) >= MAX_STREAMS and msg.id not in self.streams:
            raise ProtocolError(f"more than {MAX_STREAMS} video streams at once")
        self.streams[msg.id] = _Stream(msg.surface_id, msg.dest, msg.clip,
                                       bool(msg.flags & StreamFlags.TOP_DOWN))
        return None

    def _stream_frame(self, stream_id: int, data: memoryview, dest: m.Rect | None) -> Box | None:
        stream = self.streams.get(stream_id)
        if stream is None:
            raise ProtocolError(f"frame for unknown stream {stream_id}")
        if dest is not None and dest != stream.dest:
            stream.dest, stream.placement = dest, None
        placement = stream.placement
        if placement is None or placement.surface is not self.surfaces.get(stream.surface_id):
            base = m.DisplayBase(stream.surface_id, stream.dest, stream.clip)
            placement = stream.placement = _Placement(*self._target(base), Box.of(stream.dest),
                                                      base)
        surface, boxes, box, base = placement
        # The common case, a whole frame in plain sight, is decoded into place.
        if not (boxes == [box] and decode_jpeg_into(data, surface.pixels, box.left, box.top,
                                                    box.width, box.height,
                                                    bottom_up=not stream.top_down,
                                                    fast=True)):
            frame = decode_jpeg(data, MAX_IMAGE_PIXELS, fast=True)
            if not stream.top_down:
                frame = frame[::-1]
            _blit(surface, boxes, box, frame, self._masked(_put, None, base))
        self.stream_frames += 1
        return self._damage(surface, boxes)

    def _stream_data(self, msg: m.StreamData) -> Box | None:
        return self._stream_frame(msg.base.id, msg.data, None)

    def _stream_data_sized(self, msg: m.StreamDataSized) -> Box | None:
        return self._stream_frame(msg.base.id, msg.data, msg.dest)

    def _stream_clip(self, msg: m.StreamClip) -> Box | None:
        stream = self.streams.get(msg.id)
        if stream is None:
            raise ProtocolError(f"clip for unknown stream {msg.id}")
        stream.clip, stream.placement = msg.clip, None
        return None

    def _stream_destroy(self, msg: m.StreamDestroy) -> Box | None:
        self.streams.pop(msg.id, None)
        return None

    def _stream_destroy_all(self, msg: m.StreamDestroyAll) -> Box | None:
        self.streams.clear()
        return None

    def _fill(self, msg: m.DrawFill) -> Box | None:
        return self._paint(msg.base, msg.mask, msg.rop_descriptor,
                           self._brush(msg.brush, msg.base))

    def _stroke(self, msg: m.DrawStroke) -> Box | None:
        surface, boxes = self._target(msg.base)
        paint = self._brush(msg.brush, msg.base)
        region = Region(boxes)
        if region.empty:
            return None
        if msg.path is None:
            raise ProtocolError("stroke without a path")
        # Only the foreground mode counts: spice-gtk draws on-off dashes, never the gaps.
        code = rop.from_ropd(msg.fore_mode, Ropd.INVERS_BRUSH, Ropd.INVERS_DEST)
        box = stroke(surface.pixels, region, polylines(msg.path), dash_pattern(msg.attr),
                     paint, code)
        return self._damage(surface, [box]) if box else None

    def _text(self, msg: m.DrawText) -> Box | None:
        surface, boxes = self._target(msg.base)
        fore = None if msg.fore_brush.type == BrushType.NONE else \
            self._brush(msg.fore_brush, msg.base)
        back = self._brush(msg.back_brush, msg.base)
        region = Region(boxes)
        if region.empty:
            return None
        if msg.string is None:
            raise ProtocolError("text without a string")
        drawn: list[Box] = []
        area = msg.back_area
        if area.top != area.bottom and area.left != area.right:
            if msg.fore_mode != Ropd.OP_PUT:
                return None  # spice-gtk refuses to draw such text at all
            # The background is put with the brush, whatever back_mode says.
            for b in region.boxes:
                part = b.intersect(Box.of(area))
                if not part.empty:
                    surface.pixels[part.top:part.bottom, part.left:part.right] = \
                        paint_over(back, part)
                    drawn.append(part)
        bpp = m.glyph_bpp(msg.string.flags)
        bounds = string_box(msg.string)
        if fore is not None and bpp is not None and bounds is not None:
            window = bounds.intersect(region.extents)
            if not window.empty:
                mask = string_mask(msg.string, bpp, window).astype(np.uint32)
                # The brush goes OVER through the glyph coverage. A pattern is tiled from
                # the string's top left corner here, not from the surface's, and counts
                # as opaque (its alpha, if it had one, is not known here).
                if isinstance(fore, Tile):
                    src = Picture(fore.pixels, Format.XRGB, repeat=1)
                    src_origin = (-fore.x, -fore.y)
                else:
                    src = Picture(np.array([[fore | 0xFF000000]], np.uint32), Format.ARGB,
                                  repeat=1)
                    src_origin = (0, 0)
                box = composite_region(
                    surface.pixels, _format(surface), region, window, Op.OVER, src,
                    src_origin, Picture(mask, Format.A8),
                    (bounds.left - window.left, bounds.top - window.top), False,
                    (bounds.left, bounds.top), (bounds.width, bounds.height))
                if box is not None:
                    drawn.append(box)
        return self._damage(surface, drawn)

    def _composite(self, msg: m.DrawComposite) -> Box | None:
        surface, boxes = self._target(msg.base)
        flags = msg.flags
        # spice-gtk decodes both images before it looks at the clip.
        src = self._picture(msg.src_bitmap, (flags >> 8) & 7, (flags >> 14) & 3,
                            msg.src_transform if flags & CompositeFlags.HAS_SRC_TRANSFORM
                            else None, bool(flags & CompositeFlags.SOURCE_OPAQUE))
        mask = None
        if flags & CompositeFlags.HAS_MASK:
            # MASK_OPAQUE is the server's hint; spice-gtk never applies it.
            mask = self._picture(msg.mask_bitmap, (flags >> 11) & 7, (flags >> 16) & 3,
                                 msg.mask_transform
                                 if flags & CompositeFlags.HAS_MASK_TRANSFORM else None,
                                 False)
        region = Region(boxes)
        if region.empty:
            return None
        dest = Box.of(msg.base.box)
        box = composite_region(
            surface.pixels, _format(surface), region, None, flags & 0xFF, src,
            (msg.src_origin.x, msg.src_origin.y), mask,
            (msg.mask_origin.x, msg.mask_origin.y),
            bool(flags & CompositeFlags.COMPONENT_ALPHA), (dest.left, dest.top),
            (dest.width, dest.height))
        return self._damage(surface, [box]) if box else None

    def _picture(self, image: m.Image | None, filter_: int, repeat: int,
                 transform: m.Transform | None, opaque: bool) -> Picture:
        """A composite operand with the pixel format spice-gtk gives it: a surface's own
        (SOURCE_OPAQUE drops its alpha), else alpha only for images that carry one."""
        if image is None:
            raise ProtocolError("composite without its image")
        if isinstance(image.payload, m.SurfaceImage):
            owner = self._surface(image.payload.surface_id)
            fmt = _format(owner)
            if opaque and fmt == Format.ARGB:
                fmt = Format.XRGB
        else:
            fmt = self._image_format(image)
        matrix = None
        if transform is not None:
            t = transform  # pixman_fixed_t is signed: the wire's u32 carries the same bits
            matrix = (_i32(t.t00), _i32(t.t01), _i32(t.t02), _i32(t.t10), _i32(t.t11),
                      _i32(t.t12))
            if matrix == _IDENTITY:
                matrix = None  # pixman_image_set_transform forgets an identity
        return Picture(self._image(image), fmt, filter_, repeat, matrix)

    def _copy_bits(self, msg: m.CopyBits) -> Box | None:
        surface, boxes = self._target(msg.base)
        dest = msg.base.box
        dx, dy = msg.src_pos.x - dest.left, msg.src_pos.y - dest.top
        for b in boxes:
            src = Box(b.left + dx, b.top + dy, b.right + dx, b.bottom + dy)
            if src.intersect(surface.bounds) != src:
                raise ProtocolError("COPY_BITS source outside the surface")
            _copy_within(surface.pixels, b, dx, dy)
        return self._damage(surface, boxes)

    def _masked(self, draw: Draw, qmask: m.QMask | None, base: m.DisplayBase) -> BoxDraw:
        """``draw``, limited to the set bits of ``qmask`` when there is one."""
        if qmask is None or qmask.bitmap is None:
            return lambda dst, src, _box: draw(dst, src)
        mask = Mask(qmask, self._mask_bits(qmask.bitmap), Box.of(base.box))

        def masked(dst: Pixels, src: Pixels, box: Box) -> None:
            result = dst.copy()
            draw(result, src)
            np.copyto(dst, result, where=mask.window(box))
        return masked

    def _mask_bits(self, image: m.Image) -> Pixels:
        d, p = image.descriptor, image.payload
        if d.type in (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS):
            return self.pixmaps.get(d.id, lossless=d.type == ImageType.FROM_CACHE_LOSSLESS)
        if not isinstance(p, m.BitmapData):
            raise ProtocolError(f"mask of image type {d.type}: masks are bitmaps")
        bits = mask_bits(p)
        if d.flags & ImageFlags.CACHE_ME:
            self.pixmaps.put(d.id, bits, lossy=False)
        return bits

    def _image_format(self, image: m.Image) -> Format:
        d = image.descriptor
        if d.type in (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS):
            return self.pixmaps.format_of(d.id)
        return _format_of(image)

    def _image(self, image: m.Image) -> Pixels:
        """A source image's pixels, from the cache or decoded (and cached if asked)."""
        d, p = image.descriptor, image.payload
        if not (0 < d.width <= MAX_SURFACE_SIDE and 0 < d.height <= MAX_SURFACE_SIDE
                and d.width * d.height <= MAX_IMAGE_PIXELS):
            raise ProtocolError(f"image of {d.width}x{d.height} is out of range")
        self.image_types[d.type] += 1
        if d.type in (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS):
            return self.pixmaps.get(d.id, lossless=d.type == ImageType.FROM_CACHE_LOSSLESS)
        pixels = self._decode(d, p)
        self.decoded_pixels[d.type] += d.width * d.height
        if not d.flags & _CACHING:
            return pixels
        # Decoded pixels are new arrays or views of the message, which nothing writes to:
        # the cache keeps them as they are. A surface changes with later draws: the cache
        # gets a copy of it.
        kept = pixels.copy() if isinstance(p, m.SurfaceImage) else pixels
        if d.flags & ImageFlags.CACHE_ME:
            self.pixmaps.put(d.id, kept, lossy=d.type in _LOSSY, fmt=_format_of(image))
        else:
            if d.type in _LOSSY:
                raise ProtocolError(f"image {d.id:#x} replaces a lossy cache entry with "
                                    f"another lossy one")
            self.pixmaps.replace_lossy(d.id, kept, fmt=_format_of(image))
        return pixels

    def _decode(self, d: m.ImageDescriptor, p: m.ImagePayload) -> Pixels:
        if isinstance(p, m.BitmapData):
            if (p.width, p.height) != (d.width, d.height):
                raise ProtocolError(f"bitmap of {p.width}x{p.height} in an image of "
                                    f"{d.width}x{d.height}")
            return decode_bitmap(p, self.palettes.resolve(p.flags, p.palette, p.palette_id))
        if isinstance(p, m.LzPltData):
            return lz.decode_lz(p.data, d.width, d.height,
                             self.palettes.resolve(p.flags, p.palette, p.palette_id))
        if d.type == ImageType.LZ4 and isinstance(p, m.BinaryData):
            return lz4.decode_lz4(p.data, d.width, d.height)
        if d.type == ImageType.LZ_RGB and isinstance(p, m.BinaryData):
            return lz.decode_lz(p.data, d.width, d.height)
        if d.type == ImageType.QUIC and isinstance(p, m.BinaryData):
            return quic.decode_quic(p.data, d.width, d.height)
        if d.type == ImageType.GLZ_RGB and isinstance(p, m.BinaryData):
            return self.glz.decode(p.data, d.width, d.height)
        if isinstance(p, m.ZlibGlzData):
            return self.glz.decode_zlib(p.data, p.glz_data_size, d.width, d.height)
        if d.type == ImageType.JPEG and isinstance(p, m.BinaryData):
            return _sized(decode_jpeg(p.data, d.width * d.height), d)
        if isinstance(p, m.JpegAlphaData):
            return _jpeg_alpha(p, d)
        if isinstance(p, m.SurfaceImage):
            return self._surface(p.surface_id).pixels
        raise Unsupported(f"image type {d.type} is not rendered yet")


_LOSSY = (ImageType.JPEG, ImageType.JPEG_ALPHA)
_CACHING = ImageFlags.CACHE_ME | ImageFlags.CACHE_REPLACE_ME


def _changes_state(image: m.Image) -> bool:
    """Whether decoding ``image`` matters even when none of it is drawn: it fills a cache
    or the GLZ window."""
    d, p = image.descriptor, image.payload
    if d.flags & _CACHING:
        return True
    if d.type in (ImageType.GLZ_RGB, ImageType.ZLIB_GLZ_RGB):
        return True
    return isinstance(p, m.BitmapData | m.LzPltData) and bool(p.flags & BitmapFlags.PAL_CACHE_ME)


def _brush_color(surface: Surface, color: int) -> np.uint32:
    """Brush colours come in the target surface's pixel format; the canvas holds XRGB."""
    value = np.array([color], np.uint32)
    if surface.format == SurfaceFormat.RGB565:
        value = from_rgb565(value)
    elif surface.format == SurfaceFormat.RGB555:
        value = from_rgb555(value)
    return np.uint32(value[0])


def _sized(pixels: Pixels, d: m.ImageDescriptor) -> Pixels:
    if pixels.shape != (d.height, d.width):
        raise ProtocolError(f"image of {pixels.shape[1]}x{pixels.shape[0]} in an image of "
                            f"{d.width}x{d.height}")
    return pixels


def _jpeg_alpha(p: m.JpegAlphaData, d: m.ImageDescriptor) -> Pixels:
    """A JPEG for the colours, then an LZ alpha plane (XXXA) in the bitmap's row order."""
    if p.jpeg_size > len(p.data):
        raise ProtocolError(f"JPEG_ALPHA image whose JPEG part ({p.jpeg_size} bytes) is "
                            f"longer than its data")
    rgb = _sized(decode_jpeg(p.data[:p.jpeg_size], d.width * d.height), d)
    alpha_plane = p.data[p.jpeg_size:]
    kind = lz.stream_kind(alpha_plane)
    if kind is None or kind[0] != lz.XXXA:
        raise ProtocolError("JPEG_ALPHA image without an XXXA alpha plane")
    if kind[1] != bool(p.flags & JpegAlphaFlags.TOP_DOWN):
        raise ProtocolError("JPEG_ALPHA image whose alpha plane has the other row order")
    alpha = lz.decode_lz(alpha_plane, d.width, d.height)  # flipped to top-down, like the JPEG
    pixels: Pixels = rgb & np.uint32(0x00FFFFFF) | alpha
    return pixels


def _ternary(dst: Pixels, src: Pixels, pattern: Pixels | np.uint32, code: int) -> None:
    """A ROP3: bit (pattern << 2 | source << 1 | dest) of ``code`` is the result for those
    input bits (the Windows ternary raster-op numbering: 0xCC copies the source)."""
    result = np.zeros_like(dst)
    for minterm in range(8):
        if code >> minterm & 1:
            p = pattern if minterm & 4 else ~pattern
            s = src if minterm & 2 else ~src
            d = dst if minterm & 1 else ~dst
            result |= p & s & d
    dst[...] = result


def _put(dst: Pixels, src: Pixels) -> None:
    dst[...] = src


def _over(dst: Pixels, src: Pixels, src_has_alpha: bool, overall: int) -> None:
    """pixman's OVER with a constant mask: premultiplied source times overall/255."""
    d = dst.view(np.uint8).reshape(*dst.shape, 4).astype(np.uint32)
    s = np.ascontiguousarray(src).view(np.uint8).reshape(*src.shape, 4).astype(np.uint32)
    if not src_has_alpha:
        s[..., 3] = 255
    if overall != 255:
        s = div255(s * overall)
    out = s + div255(d * (255 - s[..., 3:4]))
    dst.view(np.uint8).reshape(*dst.shape, 4)[...] = np.minimum(out, 255)


Draw = Callable[[Pixels, Pixels], None]  # (destination view, source part)
BoxDraw = Callable[[Pixels, Pixels, Box], None]  # the same, told which box it draws


class _Located:
    """A Draw made anew for each box it draws: a pattern brush lines up with the surface,
    which a Draw does not see. ``around`` gives it the box the surrounding BoxDraw gets."""

    def __init__(self, draw_at: Callable[[Box], Draw]) -> None:
        self.draw_at = draw_at
        self.box = Box(0, 0, 0, 0)

    def __call__(self, dst: Pixels, src: Pixels) -> None:
        self.draw_at(self.box)(dst, src)

    def around(self, draw: BoxDraw) -> BoxDraw:
        def located(dst: Pixels, src: Pixels, box: Box) -> None:
            self.box = box
            draw(dst, src, box)
        return located


def _format(surface: Surface) -> Format:
    if surface.format == SurfaceFormat.A8:
        return Format.A8
    return Format.ARGB if surface.format == SurfaceFormat.ARGB32 else Format.XRGB


_IDENTITY = (1 << 16, 0, 0, 0, 1 << 16, 0)


def _i32(v: int) -> int:
    return (v ^ 0x80000000) - 0x80000000


def _format_of(image: m.Image) -> Format:
    """How spice-gtk holds a decoded image: a8 for 8-bit alpha bitmaps, a8r8g8b8 for
    images with an alpha channel, else x8r8g8b8."""
    p = image.payload
    if isinstance(p, m.BitmapData) and p.format == BitmapFormat.BIT8_A:
        return Format.A8
    return Format.ARGB if _carries_alpha(image) else Format.XRGB


def _carries_alpha(image: m.Image) -> bool:
    """Whether spice-gtk decodes ``image`` to a8r8g8b8 (an alpha channel), not x8r8g8b8."""
    d, p = image.descriptor, image.payload
    if isinstance(p, m.BitmapData):
        return p.format == BitmapFormat.RGBA
    if isinstance(p, m.JpegAlphaData):
        return True
    if isinstance(p, m.ZlibGlzData):
        return glz.zlib_carries_alpha(p.data)
    if isinstance(p, m.BinaryData):
        if d.type == ImageType.LZ_RGB:
            kind = lz.stream_kind(p.data)
            return kind is not None and kind[0] == lz.RGBA
        peek = _ALPHA_IN_HEADER.get(d.type)
        return peek is not None and peek(p.data)
    return False


_ALPHA_IN_HEADER: dict[int, Callable[[memoryview], bool]] = {
    ImageType.GLZ_RGB: glz.carries_alpha, ImageType.QUIC: quic.carries_alpha,
    ImageType.LZ4: lz4.carries_alpha,
}


def _blit(surface: Surface, boxes: Sequence[Box], dest: Box, area: Pixels,
          draw: BoxDraw) -> None:
    """Draw ``area`` stretched over ``dest``, only inside ``boxes``."""
    scaled = area.shape != (dest.height, dest.width)
    for b in boxes:
        if scaled:
            # Scale only what is visible: the destination box may be huge or mostly
            # clipped away, and its size is the server's to choose.
            part = _scale_nearest(area, dest, b)
        else:
            part = area[b.top - dest.top:b.bottom - dest.top,
                        b.left - dest.left:b.right - dest.left]
        draw(surface.pixels[b.top:b.bottom, b.left:b.right], part, b)


def _scale_nearest(src: Pixels, dest: Box, visible: Box) -> Pixels:
    """The ``visible`` part of ``src`` stretched over ``dest``, nearest neighbour."""
    rows = (np.arange(visible.top, visible.bottom) - dest.top) * src.shape[0] // dest.height
    cols = (np.arange(visible.left, visible.right) - dest.left) * src.shape[1] // dest.width
    scaled: Pixels = src[rows[:, None], cols]
    return scaled


# Scrolling in bands pays off where numpy's temporary would not fit in the cache, and
# when each band (a numpy call) moves enough pixels (measured on 200x200 to 1920x1000).
_BANDED_SCROLL_PIXELS = 1 << 18
_BAND_PIXELS = 2048


def _copy_within(pixels: Pixels, box: Box, dx: int, dy: int) -> None:
    """Copy the pixels at ``box`` moved by (dx, dy) into ``box`` of the same surface.

    Scrolling overlaps source and target, and numpy then copies through a temporary the
    size of the box. Bands as deep (or as wide) as the scroll never overlap their
    source; taken in the scroll's direction, none reads what another has written. A
    terminal's 16-row scroll of 640x640 takes 0.09 ms this way, 0.27 ms through the
    temporary; a 1920x1000 one 0.34 ms instead of 1.1."""
    step, length, across = (abs(dy), box.height, box.width) if dy else \
        (abs(dx), box.width, box.height)
    if not step or box.width * box.height < _BANDED_SCROLL_PIXELS \
            or step * across < _BAND_PIXELS:
        pixels[box.top:box.bottom, box.left:box.right] = \
            pixels[box.top + dy:box.bottom + dy, box.left + dx:box.right + dx]
        return
    starts = range(0, length, step) if (dy or dx) > 0 else \
        range(length - step, -step, -step)
    for start in starts:
        first, last = max(start, 0), min(start + step, length)
        if dy:
            top, bottom = box.top + first, box.top + last
            pixels[top:bottom, box.left:box.right] = \
                pixels[top + dy:bottom + dy, box.left + dx:box.right + dx]
        else:
            left, right = box.left + first, box.left + last
            pixels[box.top:box.bottom, left:right] = \
                pixels[box.top:box.bottom, left + dx:right + dx]


def _rop(dst: Pixels, src: Pixels | np.uint32, ropd: int,
         src_invert: int = Ropd.INVERS_SRC, dest_invert: int = Ropd.INVERS_DEST) -> None:
    """Combine src into dst per a ROP descriptor (spice.proto ``ropd``), reduced to one of
    the sixteen raster ops as spice-gtk does (``rop.from_ropd``).

    Which flag inverts which operand depends on what the operands are: a FILL's source is
    the brush (INVERS_BRUSH), an OPAQUE's destination holds the source image (INVERS_SRC)."""
    code = rop.from_ropd(ropd, src_invert, dest_invert)
    if code == rop.COPY:
        dst[...] = src
    elif code != rop.NOOP:
        dst[...] = rop.apply(code, src, dst)


_HANDLERS: dict[type, Callable[[Canvas, Any], Box | None]] = {
    m.SurfaceCreate: Canvas._surface_create,
    m.SurfaceDestroy: Canvas._surface_destroy,
    m.DisplayMode: Canvas._mode,
    m.DisplayReset: Canvas._reset,
    m.MonitorsConfig: Canvas._monitors_config,
    m.InvalList: Canvas._inval_list,
    m.InvalAllPixmaps: Canvas._inval_all_pixmaps,
    m.InvalPalette: Canvas._inval_palette,
    m.InvalAllPalettes: Canvas._inval_all_palettes,
    m.StreamCreate: Canvas._stream_create,
    m.StreamData: Canvas._stream_data,
    m.StreamDataSized: Canvas._stream_data_sized,
    m.StreamClip: Canvas._stream_clip,
    m.StreamDestroy: Canvas._stream_destroy,
    m.StreamDestroyAll: Canvas._stream_destroy_all,
    m.DrawCopy: Canvas._copy,
    m.DrawBlend: Canvas._copy,
    m.DrawOpaque: Canvas._opaque,
    m.DrawRop3: Canvas._rop3,
    m.DrawTransparent: Canvas._transparent,
    m.DrawAlphaBlend: Canvas._alpha_blend,
    m.DrawBlackness: Canvas._blackness,
    m.DrawWhiteness: Canvas._whiteness,
    m.DrawInvers: Canvas._invers,
    m.DrawFill: Canvas._fill,
    m.DrawStroke: Canvas._stroke,
    m.DrawText: Canvas._text,
    m.DrawComposite: Canvas._composite,
    m.CopyBits: Canvas._copy_bits,
}
