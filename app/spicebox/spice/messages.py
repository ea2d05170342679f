"""The message table: every SPICE message this client speaks, declared once.

Field order, widths and numbering follow spice-common's ``spice.proto``. Decoders and
encoders for all of them are derived by ``wire.py``; nothing here is parsed by hand
except the few ``switch`` types (Clip, Brush, Image, LineAttr, String, DrawComposite),
whose shape depends on a tag.
"""

from __future__ import annotations

import struct
from typing import Annotated

from .constants import (
    BitmapFlags,
    BrushType,
    ChannelType,
    ClipType,
    CompositeFlags,
    CursorFlags,
    ImageType,
    LineFlags,
    StringFlags,
)
from .errors import ProtocolError, Unsupported
from .wire import (
    BASE_CHANNEL,
    CLIENT,
    I16,
    I32,
    I64,
    SERVER,
    U8,
    U16,
    U32,
    U64,
    Array,
    Blob,
    Codec,
    Custom,
    Message,
    Prim,
    Ptr,
    Reader,
    Rest,
    Writer,
    codec_of,
    message,
    wire_struct,
)

MAIN = ChannelType.MAIN
DISPLAY = ChannelType.DISPLAY
INPUTS = ChannelType.INPUTS
CURSOR = ChannelType.CURSOR
PLAYBACK = ChannelType.PLAYBACK
RECORD = ChannelType.RECORD
USBREDIR = ChannelType.USBREDIR

Bytes = Annotated[memoryview, Rest()]

# Every channel of every type a server could offer, with room to spare: each listed display
# channel costs a connection and a canvas, so the list is not the server's to inflate.
MAX_CHANNELS = 64
MAX_HEADS = 16

# --- shared structures --------------------------------------------------------------------


@wire_struct
class Point:
    x: I32
    y: I32


@wire_struct
class Rect:
    top: I32
    left: I32
    bottom: I32
    right: I32


@wire_struct
class ChannelId:
    type: U8
    id: U8


@wire_struct
class ChannelWait:
    channel_type: U8
    channel_id: U8
    message_serial: U64


@wire_struct
class Clip(Custom):
    """``rects`` is empty for clip type NONE (draw the whole bounding box)."""

    type: int
    rects: tuple[Rect, ...] = ()

    @classmethod
    def read(cls, r: Reader) -> Clip:
        kind = r.take(1)[0]
        if kind == ClipType.NONE:
            return cls(kind)
        if kind == ClipType.RECTS:
            return cls(kind, _RECTS.read(r))
        raise ProtocolError(f"unknown clip type {kind}")

    @classmethod
    def write(cls, w: Writer, value: Clip) -> None:
        w.buf.append(value.type)
        if value.type == ClipType.RECTS:
            _RECTS.write(w, value.rects)


# Real clip lists hold a few dozen rectangles; a desktop's worth of single pixels is the
# absurd end, and still far below this.
_RECTS: Array[Rect] = Array(Rect, Prim("I"), limit=65536)


@wire_struct
class DisplayBase:
    surface_id: U32
    box: Rect
    clip: Clip


@wire_struct
class Palette:
    unique: U64
    entries: Annotated[tuple[int, ...], Array(U32, Prim("H"), limit=256)]


@wire_struct
class ImageDescriptor:
    id: U64
    type: U8
    flags: U8
    width: U32
    height: U32


@wire_struct
class BitmapData:
    """``palette`` is set when the bitmap carries one, ``palette_id`` when it names a cached
    one (BitmapFlags.PAL_FROM_CACHE); ``data`` holds ``height * stride`` bytes."""

    format: int
    flags: int
    width: int
    height: int
    stride: int
    palette: Palette | None
    palette_id: int
    data: memoryview


@wire_struct
class LzPltData:
    """An LZ-compressed indexed image; its palette follows the same rules as a bitmap's."""

    flags: int
    palette: Palette | None
    palette_id: int
    data: memoryview


@wire_struct
class BinaryData:
    data: Annotated[memoryview, Blob(Prim("I"))]


@wire_struct
class ZlibGlzData:
    glz_data_size: U32
    data: Annotated[memoryview, Blob(Prim("I"))]


@wire_struct
class JpegAlphaData:
    flags: U8
    jpeg_size: U32
    data: Annotated[memoryview, Blob(Prim("I"))]


@wire_struct
class SurfaceImage:
    surface_id: U32


ImagePayload = (BitmapData | LzPltData | BinaryData | ZlibGlzData | JpegAlphaData
                | SurfaceImage | None)


@wire_struct
class Image(Custom):
    """A source image, parsed for every type spice.proto defines; decoding the pixels is
    the canvas's business. ``payload`` is None for FROM_CACHE images."""

    descriptor: ImageDescriptor
    payload: ImagePayload

    @classmethod
    def read(cls, r: Reader) -> Image:
        d: ImageDescriptor = codec_of(ImageDescriptor).read(r)
        t = d.type
        payload: ImagePayload
        if t == ImageType.BITMAP:
            payload = _read_bitmap(r)
        elif t == ImageType.LZ_PLT:
            payload = _read_lz_plt(r)
        elif t in (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS):
            payload = None
        elif t in _DERIVED_PAYLOADS:
            payload = codec_of(_DERIVED_PAYLOADS[t]).read(r)
        else:
            raise Unsupported(f"image type {t} is not part of the protocol")
        return cls(d, payload)

    @classmethod
    def write(cls, w: Writer, value: Image) -> None:
        codec_of(ImageDescriptor).write(w, value.descriptor)
        p = value.payload
        if isinstance(p, BitmapData):
            w.pack(_BITMAP_HEAD, p.format, p.flags, p.width, p.height, p.stride)
            _write_palette(w, p.flags, p.palette, p.palette_id)
            w.buf += p.data
        elif isinstance(p, LzPltData):
            w.pack(_LZ_PLT_HEAD, p.flags, len(p.data))
            _write_palette(w, p.flags, p.palette, p.palette_id)
            w.buf += p.data
        elif p is not None:
            codec_of(type(p)).write(w, p)


_DERIVED_PAYLOADS: dict[int, type] = {
    ImageType.QUIC: BinaryData, ImageType.LZ_RGB: BinaryData, ImageType.GLZ_RGB: BinaryData,
    ImageType.JPEG: BinaryData, ImageType.LZ4: BinaryData, ImageType.ZLIB_GLZ_RGB: ZlibGlzData,
    ImageType.JPEG_ALPHA: JpegAlphaData, ImageType.SURFACE: SurfaceImage,
}
_BITMAP_HEAD = struct.Struct("<BBIII")  # format, flags, width (x), height (y), stride
_LZ_PLT_HEAD = struct.Struct("<BI")  # flags, data size
_PALETTE_PTR: Ptr[Palette] = Ptr(Palette)
_U32 = Prim("I")
_U64 = Prim("Q")


def _read_palette(r: Reader, flags: int) -> tuple[Palette | None, int]:
    """spice.proto's ``switch (flags) { case PAL_FROM_CACHE: u64 id; default: Palette* }``."""
    if flags & BitmapFlags.PAL_FROM_CACHE:
        return None, _U64.read(r)
    return _PALETTE_PTR.read(r), 0


def _write_palette(w: Writer, flags: int, palette: Palette | None, palette_id: int) -> None:
    if flags & BitmapFlags.PAL_FROM_CACHE:
        _U64.write(w, palette_id)
    else:
        _PALETTE_PTR.write(w, palette)


def _read_bitmap(r: Reader) -> BitmapData:
    fmt, flags, width, height, stride = r.unpack(_BITMAP_HEAD)
    palette, palette_id = _read_palette(r, flags)
    return BitmapData(fmt, flags, width, height, stride, palette, palette_id,
                      r.take(height * stride))


def _read_lz_plt(r: Reader) -> LzPltData:
    flags, size = r.unpack(_LZ_PLT_HEAD)
    palette, palette_id = _read_palette(r, flags)
    return LzPltData(flags, palette, palette_id, r.take(size))


@wire_struct
class QMask:
    flags: U8
    pos: Point
    bitmap: Annotated[Image | None, Ptr(Image)]


NO_MASK = QMask(0, Point(0, 0), None)


@wire_struct
class Pattern:
    image: Annotated[Image | None, Ptr(Image)]
    pos: Point


@wire_struct
class Brush(Custom):
    type: int
    color: int = 0
    pattern: Pattern | None = None

    @classmethod
    def read(cls, r: Reader) -> Brush:
        kind = r.take(1)[0]
        if kind == BrushType.SOLID:
            return cls(kind, color=_U32.read(r))
        if kind == BrushType.PATTERN:
            return cls(kind, pattern=codec_of(Pattern).read(r))
        if kind == BrushType.NONE:
            return cls(kind)
        raise ProtocolError(f"unknown brush type {kind}")

    @classmethod
    def write(cls, w: Writer, value: Brush) -> None:
        w.buf.append(value.type)
        if value.type == BrushType.SOLID:
            _U32.write(w, value.color)
        elif value.type == BrushType.PATTERN:
            codec_of(Pattern).write(w, value.pattern)


@wire_struct
class PointFix:
    """A point in 28.4 fixed point: x / 16, y / 16."""

    x: I32
    y: I32


@wire_struct
class Point16:
    x: I16
    y: I16


@wire_struct
class Transform:
    """The first two rows of an affine matrix in pixman's 16.16 fixed point (the wire says
    u32; pixman reads the same bits as signed)."""

    t00: U32
    t01: U32
    t02: U32
    t10: U32
    t11: U32
    t12: U32


class _PackedPoints(Codec[memoryview]):
    """A u32 count, then that many PointFix, kept as their raw little-endian bytes: a path
    may carry millions of points, too many to become a Python object each."""

    min_size = 4
    item_size = 8

    def read(self, r: Reader) -> memoryview:
        n = _U32.read(r)
        if n > (r.end - r.pos) // self.item_size:
            raise ProtocolError(f"{n} path points cannot fit in {r.end - r.pos} bytes")
        return r.take(n * self.item_size)

    def write(self, w: Writer, value: memoryview) -> None:
        _U32.write(w, len(value) // self.item_size)
        w.buf += value


@wire_struct
class PathSegment:
    """``points`` holds PointFix pairs (x, y: little-endian i32) back to back."""

    flags: U8
    points: Annotated[memoryview, _PackedPoints()]


# Each segment becomes a Python object; Windows paths have at most a few hundred figures.
MAX_PATH_SEGMENTS = 65536


@wire_struct
class Path:
    segments: Annotated[tuple[PathSegment, ...],
                        Array(PathSegment, Prim("I"), limit=MAX_PATH_SEGMENTS)]


_STYLE: Array[int] = Array(I32, "style_nseg")  # counted by LineAttr's style_nseg


@wire_struct
class LineAttr(Custom):
    """``style`` (dash and gap lengths in 28.4 fixed point) is read only for STYLED lines;
    it is None for plain lines and for a null style pointer."""

    flags: int
    style: tuple[int, ...] | None = None

    @classmethod
    def read(cls, r: Reader) -> LineAttr:
        flags = r.take(1)[0]
        if not flags & LineFlags.STYLED:
            return cls(flags)
        nseg = r.take(1)[0]
        offset = _U32.read(r)
        return cls(flags, _STYLE.read_n(r.at(offset), nseg) if offset else None)

    @classmethod
    def write(cls, w: Writer, value: LineAttr) -> None:
        w.buf.append(value.flags)
        if value.flags & LineFlags.STYLED:
            w.buf.append(len(value.style or ()))
            if value.style is None:
                _U32.write(w, 0)
            else:
                w.pointer(_STYLE, value.style)


@wire_struct
class RasterGlyph:
    """One glyph bitmap: rows of ``ceil(width * bpp / 8)`` bytes, the string's bpp."""

    render_pos: Point
    glyph_origin: Point
    width: int
    height: int
    data: memoryview


_GLYPH_HEAD = struct.Struct("<iiiiHH")  # render_pos, glyph_origin, width, height
_GLYPH_BPP = ((StringFlags.RASTER_A1, 1), (StringFlags.RASTER_A4, 4), (StringFlags.RASTER_A8, 8))


def glyph_bpp(flags: int) -> int | None:
    """Bits per glyph pixel; the first raster flag wins, as in spice-common's demarshaller.
    None for vector glyphs, which carry no glyph data at all."""
    return next((bpp for flag, bpp in _GLYPH_BPP if flags & flag), None)


@wire_struct
class String(Custom):
    flags: int
    glyphs: tuple[RasterGlyph, ...]

    @classmethod
    def read(cls, r: Reader) -> String:
        length, flags = r.unpack(_STRING_HEAD)
        bpp = glyph_bpp(flags)
        if bpp is None:
            return cls(flags, ())
        if length * _GLYPH_HEAD.size > r.end - r.pos:
            raise ProtocolError(f"{length} glyphs cannot fit in {r.end - r.pos} bytes")
        glyphs = []
        for _ in range(length):
            x, y, ox, oy, width, height = r.unpack(_GLYPH_HEAD)
            data = r.take((width * bpp + 7) // 8 * height)
            glyphs.append(RasterGlyph(Point(x, y), Point(ox, oy), width, height, data))
        return cls(flags, tuple(glyphs))

    @classmethod
    def write(cls, w: Writer, value: String) -> None:
        w.pack(_STRING_HEAD, len(value.glyphs), value.flags)
        for g in value.glyphs:
            w.pack(_GLYPH_HEAD, g.render_pos.x, g.render_pos.y, g.glyph_origin.x,
                   g.glyph_origin.y, g.width, g.height)
            w.buf += g.data


_STRING_HEAD = struct.Struct("<HB")  # length, flags



@wire_struct
class Head:
    id: U32
    surface_id: U32
    width: U32
    height: U32
    x: U32
    y: U32
    flags: U32


# --- every channel (spice.proto BaseChannel) -----------------------------------------------


@message(BASE_CHANNEL, SERVER, 1)
@wire_struct
class Migrate(Message):
    flags: U32


@message(BASE_CHANNEL, SERVER, 3)
@wire_struct
class SetAck(Message):
    generation: U32
    window: U32


@message(BASE_CHANNEL, SERVER, 4)
@wire_struct
class Ping(Message):
    id: U32
    timestamp: U64
    data: Bytes


@message(BASE_CHANNEL, SERVER, 5)
@wire_struct
class WaitForChannels(Message):
    waits: Annotated[tuple[ChannelWait, ...], Array(ChannelWait, Prim("B"))]


@message(BASE_CHANNEL, SERVER, 6)
@wire_struct
class Disconnecting(Message):
    time_stamp: U64
    reason: U32


@message(BASE_CHANNEL, SERVER, 7)
@wire_struct
class Notify(Message):
    time_stamp: U64
    severity: U32
    visibility: U32
    what: U32
    text: Annotated[memoryview, Blob(Prim("I"))]


@message(BASE_CHANNEL, CLIENT, 1)
@wire_struct
class AckSync(Message):
    generation: U32


@message(BASE_CHANNEL, CLIENT, 2)
@wire_struct
class Ack(Message):
    pass


@message(BASE_CHANNEL, CLIENT, 3)
@wire_struct
class Pong(Message):
    id: U32
    timestamp: U64


@message(BASE_CHANNEL, CLIENT, 6)
@wire_struct
class ClientDisconnecting(Message):
    time_stamp: U64
    reason: U32


# --- main channel ---------------------------------------------------------------------------


@message(MAIN, SERVER, 103)
@wire_struct
class MainInit(Message):
    session_id: U32
    display_channels_hint: U32
    supported_mouse_modes: U32
    current_mouse_mode: U32
    agent_connected: U32
    agent_tokens: U32
    multi_media_time: U32
    ram_hint: U32


@message(MAIN, SERVER, 104)
@wire_struct
class ChannelsList(Message):
    channels: Annotated[tuple[ChannelId, ...], Array(ChannelId, Prim("I"), limit=MAX_CHANNELS)]


@message(MAIN, SERVER, 105)
@wire_struct
class MouseModeMsg(Message):
    supported_modes: U16
    current_mode: U16


@message(MAIN, SERVER, 106)
@wire_struct
class MultiMediaTime(Message):
    time: U32


@message(MAIN, SERVER, 107)
@wire_struct
class AgentConnected(Message):
    pass


@message(MAIN, SERVER, 108)
@wire_struct
class AgentDisconnected(Message):
    error_code: U32


@message(MAIN, SERVER, 109)
@wire_struct
class AgentData(Message):
    data: Bytes  # a piece of the agent's message stream (see agent.py)


@message(MAIN, SERVER, 110)
@wire_struct
class AgentToken(Message):
    num_tokens: U32


@message(MAIN, SERVER, 113)
@wire_struct
class MainName(Message):
    name: Annotated[memoryview, Blob(Prim("I"))]


@message(MAIN, SERVER, 114)
@wire_struct
class MainUuid(Message):
    uuid: Annotated[memoryview, Rest()]


@message(MAIN, SERVER, 115)
@wire_struct
class AgentConnectedTokens(Message):
    num_tokens: U32


@message(MAIN, CLIENT, 104)
@wire_struct
class AttachChannels(Message):
    pass


@message(MAIN, CLIENT, 105)
@wire_struct
class MouseModeRequest(Message):
    mode: U16


@message(MAIN, CLIENT, 106)
@wire_struct
class AgentStart(Message):
    num_tokens: U32  # how many AGENT_DATA the server may send before we give tokens back


@message(MAIN, CLIENT, 107)
@wire_struct
class AgentDataOut(Message):
    data: Bytes


# --- inputs channel -------------------------------------------------------------------------


@message(INPUTS, SERVER, 101)
@wire_struct
class InputsInit(Message):
    keyboard_modifiers: U16


@message(INPUTS, SERVER, 102)
@wire_struct
class InputsKeyModifiers(Message):
    modifiers: U16


@message(INPUTS, SERVER, 111)
@wire_struct
class MouseMotionAck(Message):
    pass


@message(INPUTS, CLIENT, 101)
@wire_struct
class KeyDown(Message):
    code: U32  # set-1 bytes, little-endian: 0x1e, or 0x1de0 for E0 1D


@message(INPUTS, CLIENT, 102)
@wire_struct
class KeyUp(Message):
    code: U32


@message(INPUTS, CLIENT, 103)
@wire_struct
class SetKeyModifiers(Message):
    modifiers: U16


@message(INPUTS, CLIENT, 104)
@wire_struct
class KeyScancode(Message):
    data: Bytes  # raw set-1 bytes, any number


@message(INPUTS, CLIENT, 111)
@wire_struct
class MouseMotion(Message):
    dx: I32
    dy: I32
    buttons_state: U16


@message(INPUTS, CLIENT, 112)
@wire_struct
class MousePosition(Message):
    x: U32
    y: U32
    buttons_state: U16
    display_id: U8


@message(INPUTS, CLIENT, 113)
@wire_struct
class MousePress(Message):
    button: U8
    buttons_state: U16


@message(INPUTS, CLIENT, 114)
@wire_struct
class MouseRelease(Message):
    button: U8
    buttons_state: U16


# --- cursor channel -------------------------------------------------------------------------

_CURSOR_HEADER = struct.Struct("<QBHHHH")
_NO_DATA = memoryview(b"")


@wire_struct
class Cursor(Custom):
    """A cursor shape, or (flag NONE) the absence of one; ``data`` is the rest of the
    message, its layout set by ``type`` (codecs/cursor.py)."""

    flags: int
    unique: int = 0
    type: int = 0
    width: int = 0
    height: int = 0
    hot_x: int = 0
    hot_y: int = 0
    data: memoryview = _NO_DATA

    @classmethod
    def read(cls, r: Reader) -> Cursor:
        (flags,) = r.unpack(_U16)
        if flags & CursorFlags.NONE:
            return cls(flags)
        unique, kind, width, height, hot_x, hot_y = r.unpack(_CURSOR_HEADER)
        return cls(flags, unique, kind, width, height, hot_x, hot_y, r.take(r.end - r.pos))

    @classmethod
    def write(cls, w: Writer, value: Cursor) -> None:
        w.pack(_U16, value.flags)
        if not value.flags & CursorFlags.NONE:
            w.pack(_CURSOR_HEADER, value.unique, value.type, value.width, value.height,
                   value.hot_x, value.hot_y)
            w.buf += value.data


_U16 = struct.Struct("<H")


@message(CURSOR, SERVER, 101)
@wire_struct
class CursorInit(Message):
    position: Point16
    trail_length: U16
    trail_frequency: U16
    visible: U8
    cursor: Cursor


@message(CURSOR, SERVER, 102)
@wire_struct
class CursorReset(Message):
    pass


@message(CURSOR, SERVER, 103)
@wire_struct
class CursorSet(Message):
    position: Point16
    visible: U8
    cursor: Cursor


@message(CURSOR, SERVER, 104)
@wire_struct
class CursorMove(Message):
    position: Point16


@message(CURSOR, SERVER, 105)
@wire_struct
class CursorHide(Message):
    pass


@message(CURSOR, SERVER, 106)
@wire_struct
class CursorTrail(Message):
    length: U16
    frequency: U16


@message(CURSOR, SERVER, 107)
@wire_struct
class CursorInvalOne(Message):
    id: U64


@message(CURSOR, SERVER, 108)
@wire_struct
class CursorInvalAll(Message):
    pass


# --- display channel ------------------------------------------------------------------------


@message(DISPLAY, SERVER, 101)
@wire_struct
class DisplayMode(Message):
    x_res: U32
    y_res: U32
    bits: U32


@message(DISPLAY, SERVER, 102)
@wire_struct
class DisplayMark(Message):
    pass


@message(DISPLAY, SERVER, 103)
@wire_struct
class DisplayReset(Message):
    pass


@message(DISPLAY, SERVER, 104)
@wire_struct
class CopyBits(Message):
    base: DisplayBase
    src_pos: Point


@wire_struct
class ResourceId:
    type: U8
    id: U64


# Cache invalidations. The palette ones matter whatever the client announced (spice-server
# always caches palettes, see canvas/palettes.py); the pixmap ones concern a cache this
# client does not announce yet, so it has nothing to drop.
@message(DISPLAY, SERVER, 105)
@wire_struct
class InvalList(Message):
    resources: Annotated[tuple[ResourceId, ...], Array(ResourceId, Prim("H"))]


@message(DISPLAY, SERVER, 106)
@wire_struct
class InvalAllPixmaps(Message):
    waits: Annotated[tuple[ChannelWait, ...], Array(ChannelWait, Prim("B"))]


@message(DISPLAY, SERVER, 107)
@wire_struct
class InvalPalette(Message):
    id: U64


@message(DISPLAY, SERVER, 108)
@wire_struct
class InvalAllPalettes(Message):
    pass


@wire_struct
class StreamDataHeader:
    id: U32
    multi_media_time: U32


@message(DISPLAY, SERVER, 122)
@wire_struct
class StreamCreate(Message):
    surface_id: U32
    id: U32
    flags: U8
    codec_type: U8
    stamp: U64
    stream_width: U32
    stream_height: U32
    src_width: U32
    src_height: U32
    dest: Rect
    clip: Clip


@message(DISPLAY, SERVER, 123)
@wire_struct
class StreamData(Message):
    base: StreamDataHeader
    data: Annotated[memoryview, Blob(Prim("I"))]


@message(DISPLAY, SERVER, 124)
@wire_struct
class StreamClip(Message):
    id: U32
    clip: Clip


@message(DISPLAY, SERVER, 125)
@wire_struct
class StreamDestroy(Message):
    id: U32


@message(DISPLAY, SERVER, 126)
@wire_struct
class StreamDestroyAll(Message):
    pass


@message(DISPLAY, SERVER, 302)
@wire_struct
class DrawFill(Message):
    base: DisplayBase
    brush: Brush
    rop_descriptor: U16
    mask: QMask


@message(DISPLAY, SERVER, 304)
@wire_struct
class DrawCopy(Message):
    base: DisplayBase
    src_bitmap: Annotated[Image | None, Ptr(Image)]
    src_area: Rect
    rop_descriptor: U16
    scale_mode: U8
    mask: QMask


@message(DISPLAY, SERVER, 303)
@wire_struct
class DrawOpaque(Message):
    base: DisplayBase
    src_bitmap: Annotated[Image | None, Ptr(Image)]
    src_area: Rect
    brush: Brush
    rop_descriptor: U16
    scale_mode: U8
    mask: QMask


@message(DISPLAY, SERVER, 305)
@wire_struct
class DrawBlend(Message):
    base: DisplayBase
    src_bitmap: Annotated[Image | None, Ptr(Image)]
    src_area: Rect
    rop_descriptor: U16
    scale_mode: U8
    mask: QMask


@message(DISPLAY, SERVER, 306)
@wire_struct
class DrawBlackness(Message):
    base: DisplayBase
    mask: QMask


@message(DISPLAY, SERVER, 307)
@wire_struct
class DrawWhiteness(Message):
    base: DisplayBase
    mask: QMask


@message(DISPLAY, SERVER, 308)
@wire_struct
class DrawInvers(Message):
    base: DisplayBase
    mask: QMask


@message(DISPLAY, SERVER, 309)
@wire_struct
class DrawRop3(Message):
    base: DisplayBase
    src_bitmap: Annotated[Image | None, Ptr(Image)]
    src_area: Rect
    brush: Brush
    rop3: U8
    scale_mode: U8
    mask: QMask


@message(DISPLAY, SERVER, 310)
@wire_struct
class DrawStroke(Message):
    base: DisplayBase
    path: Annotated[Path | None, Ptr(Path)]
    attr: LineAttr
    brush: Brush
    fore_mode: U16
    back_mode: U16


@message(DISPLAY, SERVER, 311)
@wire_struct
class DrawText(Message):
    base: DisplayBase
    string: Annotated[String | None, Ptr(String)]
    back_area: Rect
    fore_brush: Brush
    back_brush: Brush
    fore_mode: U16
    back_mode: U16


@message(DISPLAY, SERVER, 312)
@wire_struct
class DrawTransparent(Message):
    base: DisplayBase
    src_bitmap: Annotated[Image | None, Ptr(Image)]
    src_area: Rect
    src_color: U32
    true_color: U32


@message(DISPLAY, SERVER, 313)
@wire_struct
class DrawAlphaBlend(Message):
    base: DisplayBase
    alpha_flags: U8
    alpha: U8
    src_bitmap: Annotated[Image | None, Ptr(Image)]
    src_area: Rect


@message(DISPLAY, SERVER, 314)
@wire_struct
class SurfaceCreate(Message):
    surface_id: U32
    width: U32
    height: U32
    format: U32
    flags: U32


@message(DISPLAY, SERVER, 315)
@wire_struct
class SurfaceDestroy(Message):
    surface_id: U32


@message(DISPLAY, SERVER, 317)
@wire_struct
class MonitorsConfig(Message):
    count: U16
    max_allowed: U16
    heads: Annotated[tuple[Head, ...], Array(Head, "count", limit=MAX_HEADS)]


@message(DISPLAY, SERVER, 316)
@wire_struct
class StreamDataSized(Message):
    base: StreamDataHeader
    width: U32
    height: U32
    dest: Rect
    data: Annotated[memoryview, Blob(Prim("I"))]


@message(DISPLAY, SERVER, 318)
@wire_struct
class DrawComposite(Message, Custom):
    """spice.proto's Composite: the mask and the two transforms are on the wire only when
    ``flags`` says so (CompositeFlags)."""

    base: DisplayBase
    flags: int
    src_bitmap: Image | None
    mask_bitmap: Image | None
    src_transform: Transform | None
    mask_transform: Transform | None
    src_origin: Point16
    mask_origin: Point16

    @classmethod
    def read(cls, r: Reader) -> DrawComposite:
        base = codec_of(DisplayBase).read(r)
        flags = _U32.read(r)
        src = _IMAGE_PTR.read(r)
        mask = _IMAGE_PTR.read(r) if flags & CompositeFlags.HAS_MASK else None
        transform = codec_of(Transform)
        src_t = transform.read(r) if flags & CompositeFlags.HAS_SRC_TRANSFORM else None
        mask_t = transform.read(r) if flags & CompositeFlags.HAS_MASK_TRANSFORM else None
        point = codec_of(Point16)
        return cls(base, flags, src, mask, src_t, mask_t, point.read(r), point.read(r))

    @classmethod
    def write(cls, w: Writer, value: DrawComposite) -> None:
        codec_of(DisplayBase).write(w, value.base)
        _U32.write(w, value.flags)
        _IMAGE_PTR.write(w, value.src_bitmap)
        if value.flags & CompositeFlags.HAS_MASK:
            _IMAGE_PTR.write(w, value.mask_bitmap)
        for flag, t in ((CompositeFlags.HAS_SRC_TRANSFORM, value.src_transform),
                        (CompositeFlags.HAS_MASK_TRANSFORM, value.mask_transform)):
            if value.flags & flag:
                codec_of(Transform).write(w, t)
        codec_of(Point16).write(w, value.src_origin)
        codec_of(Point16).write(w, value.mask_origin)


_IMAGE_PTR: Ptr[Image] = Ptr(Image)


@message(DISPLAY, SERVER, 319)
@wire_struct
class StreamActivateReport(Message):
    stream_id: U32
    unique_id: U32
    max_window_size: U32
    timeout_ms: U32


@message(DISPLAY, CLIENT, 101)
@wire_struct
class DisplayInit(Message):
    pixmap_cache_id: U8
    pixmap_cache_size: I64
    glz_dictionary_id: U8
    glz_dictionary_window_size: I32


@message(DISPLAY, CLIENT, 102)
@wire_struct
class StreamReport(Message):
    stream_id: U32
    unique_id: U32
    start_frame_mm_time: U32
    end_frame_mm_time: U32
    num_frames: U32
    num_drops: U32
    last_frame_delay: I32
    audio_delay: U32


@message(DISPLAY, CLIENT, 103)
@wire_struct
class PreferredCompression(Message):
    image_compression: U8


# --- playback and record channels -------------------------------------------------------

# spice-server sends one volume per channel of the stream (two); anything past a handful
# is not audio this client could play.
_VOLUMES: Array[int] = Array(U16, Prim("B"), limit=16)


@message(PLAYBACK, SERVER, 101)
@wire_struct
class PlaybackData(Message):
    time: U32  # multimedia time at which the server took the samples
    data: Bytes  # raw S16 frames, or one Opus packet (see PlaybackMode)


@message(PLAYBACK, SERVER, 102)
@wire_struct
class PlaybackMode(Message):
    time: U32
    mode: U16
    data: Bytes


@message(PLAYBACK, SERVER, 103)
@wire_struct
class PlaybackStart(Message):
    channels: U32
    format: U16
    frequency: U32
    time: U32


@message(PLAYBACK, SERVER, 104)
@wire_struct
class PlaybackStop(Message):
    pass


@message(PLAYBACK, SERVER, 105)
@wire_struct
class PlaybackVolume(Message):
    volume: Annotated[tuple[int, ...], _VOLUMES]  # 0..65535 per channel


@message(PLAYBACK, SERVER, 106)
@wire_struct
class PlaybackMute(Message):
    mute: U8


@message(PLAYBACK, SERVER, 107)
@wire_struct
class PlaybackLatency(Message):
    latency_ms: U32  # how long to delay sound so that it stays in step with video


@message(RECORD, SERVER, 101)
@wire_struct
class RecordStart(Message):
    channels: U32
    format: U16
    frequency: U32


@message(RECORD, SERVER, 102)
@wire_struct
class RecordStop(Message):
    pass


@message(RECORD, SERVER, 103)
@wire_struct
class RecordVolume(Message):
    volume: Annotated[tuple[int, ...], _VOLUMES]


@message(RECORD, SERVER, 104)
@wire_struct
class RecordMute(Message):
    mute: U8


@message(RECORD, CLIENT, 101)
@wire_struct
class RecordData(Message):
    time: U32
    data: Bytes


@message(RECORD, CLIENT, 102)
@wire_struct
class RecordMode(Message):
    time: U32
    mode: U16
    data: Bytes


@message(RECORD, CLIENT, 103)
@wire_struct
class RecordStartMark(Message):
    time: U32


# --- usbredir channel (spicevmc): an opaque usbredir byte stream ---------------------------


@message(USBREDIR, SERVER, 101)
@wire_struct
class SpicevmcData(Message):
    data: Bytes


@message(USBREDIR, SERVER, 102)
@wire_struct
class SpicevmcCompressedData(Message):
    """Only sent to clients that offer SpicevmcCap.DATA_COMPRESS_LZ4 (this one does not);
    read anyway. ``uncompressed_size`` is absent for NONE."""

    type: U8
    data: Bytes  # LZ4: u32 uncompressed size, then one LZ4 block


@message(USBREDIR, CLIENT, 101)
@wire_struct
class SpicevmcDataOut(Message):
    data: Bytes
