from __future__ import annotations

import contextlib
import io
import random

import numpy as np
import pytest

from spicebox import sdl_loader
from spicebox.canvas.canvas import Canvas
from spicebox.codecs.jpeg import decode_jpeg, decode_jpeg_into, jpeg_size
from spicebox.codecs.lz import XXXA
from spicebox.spice import messages as m
from spicebox.spice.constants import (
    ClipType,
    ImageType,
    JpegAlphaFlags,
    Ropd,
    StreamFlags,
    SurfaceFlags,
    VideoCodec,
)
from spicebox.spice.errors import ProtocolError, Unsupported

from .test_lz import stream as lz_stream


def jpeg(width: int, height: int, rgb: tuple[int, int, int],
         area: tuple[int, int, int, int] | None = None) -> memoryview:
    """A JPEG of ``rgb`` over ``area`` (x, y, w, h; default all) on black."""
    pygame = sdl_loader.pygame()
    surface = pygame.Surface((width, height))
    surface.fill(rgb, area)
    out = io.BytesIO()
    pygame.image.save(surface, out, "frame.jpg")
    return memoryview(out.getvalue())


def test_size_is_read_from_the_frame_header() -> None:
    assert jpeg_size(jpeg(40, 24, (0, 0, 0))) == (40, 24)


def test_decode_gives_xrgb_close_to_the_source() -> None:
    out = decode_jpeg(jpeg(16, 8, (200, 100, 50)), 1000)
    assert out.shape == (8, 16)
    r, g, b = int(out[4, 4]) >> 16 & 255, int(out[4, 4]) >> 8 & 255, int(out[4, 4]) & 255
    assert abs(r - 200) < 8 and abs(g - 100) < 8 and abs(b - 50) < 8


@pytest.mark.parametrize("data", [b"not a jpeg", b"\xff\xd8\xff\xe0\x00\x10", b"\xff\xd8"])
def test_corrupt_jpeg(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_jpeg(memoryview(data), 1000)


def test_a_corrupt_jpeg_leaves_the_next_one_decodable() -> None:
    good = bytes(jpeg(16, 8, (255, 128, 0)))
    rng = random.Random(1)
    for _ in range(20):
        bad = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            bad[rng.randrange(len(bad))] = rng.choice((0, 0xFF, 0x7F, 0x80))
        with contextlib.suppress(ProtocolError):
            decode_jpeg(memoryview(bytes(bad)), 1000)
        assert decode_jpeg(memoryview(good), 1000).shape == (8, 16)


def test_oversized_jpeg_is_refused_before_decoding() -> None:
    with pytest.raises(ProtocolError, match="out of range"):
        decode_jpeg(jpeg(40, 24, (0, 0, 0)), 100)


def stream_canvas(flags: int = StreamFlags.TOP_DOWN) -> Canvas:
    c = Canvas()
    c.apply(m.SurfaceCreate(0, 64, 48, 32, SurfaceFlags.PRIMARY))
    c.apply(m.StreamCreate(0, 7, flags, VideoCodec.MJPEG, 0, 16, 8, 16, 8,
                           m.Rect(10, 20, 26, 52), m.Clip(ClipType.NONE)))
    return c


def test_stream_frames_are_scaled_into_their_destination() -> None:
    c = stream_canvas()
    damage = c.apply(m.StreamData(m.StreamDataHeader(7, 0), jpeg(16, 8, (255, 255, 255))))
    assert damage is not None and (damage.width, damage.height) == (32, 16)
    assert c.primary is not None and c.stream_frames == 1
    assert (c.primary.pixels[10:26, 20:52] & 0xFFFFFF > 0xF0F0F0).all()
    assert not c.primary.pixels[:10].any()


def test_stream_clip_limits_frames() -> None:
    c = stream_canvas()
    c.apply(m.StreamClip(7, m.Clip(ClipType.RECTS, (m.Rect(10, 20, 12, 22),))))
    c.apply(m.StreamData(m.StreamDataHeader(7, 0), jpeg(16, 8, (255, 255, 255))))
    assert c.primary is not None and int((c.primary.pixels != 0).sum()) == 4


def test_frames_follow_their_streams_surface_clip_and_destination() -> None:
    """Where a stream's frames go is kept from frame to frame, and found again when the
    surface, the clip or the destination changes."""
    white = jpeg(16, 8, (255, 255, 255))
    c = Canvas()

    def frame_shows_at() -> tuple[int, int, int, int]:
        """The box lit by the next frame, on a cleared surface: (top, left, bottom, right)."""
        assert c.primary is not None
        c.primary.pixels[:] = 0
        c.apply(m.StreamData(m.StreamDataHeader(7, 0), white))
        rows, columns = np.nonzero(c.primary.pixels)
        return int(rows.min()), int(columns.min()), int(rows.max()) + 1, int(columns.max()) + 1

    c.apply(m.SurfaceCreate(0, 64, 48, 32, SurfaceFlags.PRIMARY))
    c.apply(m.StreamCreate(0, 7, StreamFlags.TOP_DOWN, VideoCodec.MJPEG, 0, 16, 8, 16, 8,
                           m.Rect(10, 20, 18, 36), m.Clip(ClipType.NONE)))
    assert frame_shows_at() == (10, 20, 18, 36)
    c.apply(m.SurfaceDestroy(0))
    c.apply(m.SurfaceCreate(0, 64, 48, 32, SurfaceFlags.PRIMARY))
    assert frame_shows_at() == (10, 20, 18, 36)  # on the new surface
    c.apply(m.StreamDataSized(m.StreamDataHeader(7, 0), 16, 8, m.Rect(30, 40, 38, 56), white))
    assert frame_shows_at() == (30, 40, 38, 56)  # the sized frame's destination stays
    c.apply(m.StreamClip(7, m.Clip(ClipType.RECTS, (m.Rect(32, 42, 34, 44),))))
    assert frame_shows_at() == (32, 42, 34, 44)


def test_streams_end_and_unknown_codecs_are_unsupported() -> None:
    c = stream_canvas()
    c.apply(m.StreamDestroy(7))
    with pytest.raises(ProtocolError, match="unknown stream"):
        c.apply(m.StreamData(m.StreamDataHeader(7, 0), jpeg(16, 8, (0, 0, 0))))
    with pytest.raises(Unsupported):
        c.apply(m.StreamCreate(0, 8, 0, VideoCodec.VP8, 0, 16, 8, 16, 8,
                               m.Rect(0, 0, 8, 16), m.Clip(ClipType.NONE)))


def textured_jpeg(width: int, height: int) -> memoryview:
    """A JPEG whose chroma changes from pixel to pixel: the fast and the accurate
    decoders disagree on it."""
    pygame = sdl_loader.pygame()
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([(x * 37 + y * 11) % 256, (x * x + y * 53) % 256, (y * y * 7) % 256], -1)
    out = io.BytesIO()
    pygame.image.save(pygame.surfarray.make_surface(rgb.astype(np.uint8).transpose(1, 0, 2)),
                      out, "frame.jpg")
    return memoryview(out.getvalue())


def test_video_frames_take_the_fast_decoder_still_images_the_accurate_one() -> None:
    frame = textured_jpeg(16, 8)
    fast, accurate = decode_jpeg(frame, 16 * 8, fast=True), decode_jpeg(frame, 16 * 8)
    assert not np.array_equal(fast, accurate)
    c = stream_canvas()
    c.apply(m.StreamCreate(0, 7, StreamFlags.TOP_DOWN, VideoCodec.MJPEG, 0, 16, 8, 16, 8,
                           m.Rect(10, 20, 18, 36), m.Clip(ClipType.NONE)))
    c.apply(m.StreamData(m.StreamDataHeader(7, 0), frame))
    assert c.primary is not None and np.array_equal(c.primary.pixels[10:18, 20:36], fast)
    image = m.Image(m.ImageDescriptor(1, ImageType.JPEG, 0, 16, 8), m.BinaryData(frame))
    c.apply(m.DrawCopy(m.DisplayBase(0, m.Rect(0, 0, 8, 16), m.Clip(ClipType.NONE)), image,
                       m.Rect(0, 0, 8, 16), Ropd.OP_PUT, 0, m.NO_MASK))
    assert np.array_equal(c.primary.pixels[0:8, 0:16] & 0xFFFFFF, accurate & 0xFFFFFF)


def test_whole_frames_in_plain_sight_are_decoded_into_place() -> None:
    frame = jpeg(16, 8, (40, 200, 90), (0, 0, 8, 8))
    c = Canvas()
    c.apply(m.SurfaceCreate(0, 64, 48, 32, SurfaceFlags.PRIMARY))
    c.apply(m.StreamCreate(0, 7, StreamFlags.TOP_DOWN, VideoCodec.MJPEG, 0, 16, 8, 16, 8,
                           m.Rect(10, 20, 18, 36), m.Clip(ClipType.NONE)))
    damage = c.apply(m.StreamData(m.StreamDataHeader(7, 0), frame))
    assert c.primary is not None and damage is not None
    assert (damage.left, damage.top, damage.width, damage.height) == (20, 10, 16, 8)
    expected = np.zeros((48, 64), np.uint32)
    expected[10:18, 20:36] = decode_jpeg(frame, 16 * 8, fast=True)
    assert np.array_equal(c.primary.pixels, expected)


@pytest.mark.parametrize(("left", "top", "width", "height", "fits"), [
    (0, 0, 16, 8, True), (48, 40, 16, 8, True), (0, 40, 16, 8, True),  # the corners
    (1, 1, 15, 8, False),  # a frame of another size
    (50, 0, 16, 8, False), (0, 41, 16, 8, False),  # past the right edge, the bottom
])
def test_decoding_into_place_says_when_it_cannot(left: int, top: int, width: int,
                                                height: int, fits: bool) -> None:
    surface = np.zeros((48, 64), np.uint32)
    assert decode_jpeg_into(jpeg(16, 8, (255, 255, 255)), surface, left, top, width,
                            height) == fits
    assert bool(surface.any()) == fits
    if fits:
        assert (surface[top:top + 8, left:left + 16] & 0xFFFFFF > 0xF0F0F0).all()
        assert int((surface != 0).sum()) == 16 * 8


def test_bottom_up_stream_frames_are_flipped() -> None:
    c = stream_canvas(flags=0)
    # White top half in the encoded frame.
    c.apply(m.StreamData(m.StreamDataHeader(7, 0), jpeg(16, 8, (255, 255, 255), (0, 0, 16, 4))))
    assert c.primary is not None
    # Bottom-up: the encoded top half lands at the bottom of the destination.
    assert np.mean(c.primary.pixels[22:26, 20:52] & 0xFF) > 200
    assert np.mean(c.primary.pixels[10:14, 20:52] & 0xFF) < 50


def jpeg_alpha(flags: int, alpha_top_down: bool) -> m.Image:
    """A 4x2 JPEG_ALPHA image: grey, with alpha rows 0x11 then 0x22 in stream order."""
    colours = jpeg(4, 2, (128, 128, 128))
    alpha = lz_stream(XXXA, 4, 2, 4, bytes([0, 0x11, 0x20, 0x00, 0, 0x22, 0x20, 0x00]),
                      alpha_top_down)
    return m.Image(m.ImageDescriptor(1, ImageType.JPEG_ALPHA, 0, 4, 2),
                   m.JpegAlphaData(flags, len(colours), memoryview(bytes(colours) + alpha)))


@pytest.mark.parametrize(("flags", "top_row_alpha"), [(JpegAlphaFlags.TOP_DOWN, 0x11),
                                                      (0, 0x22)])
def test_jpeg_alpha_joins_colours_and_the_alpha_plane(flags: int, top_row_alpha: int) -> None:
    c = Canvas()
    c.apply(m.SurfaceCreate(0, 4, 2, 32, SurfaceFlags.PRIMARY))
    c.apply(m.DrawCopy(m.DisplayBase(0, m.Rect(0, 0, 2, 4), m.Clip(ClipType.NONE)),
                       jpeg_alpha(flags, bool(flags)), m.Rect(0, 0, 2, 4), Ropd.OP_PUT, 0,
                       m.NO_MASK))
    assert c.primary is not None
    alpha = (c.primary.pixels >> 24).tolist()
    assert alpha == [[top_row_alpha] * 4, [0x11 + 0x22 - top_row_alpha] * 4]
    assert all(abs((int(p) & 255) - 128) < 8 for p in c.primary.pixels.flat)


def test_jpeg_alpha_planes_must_agree_on_row_order() -> None:
    c = Canvas()
    c.apply(m.SurfaceCreate(0, 4, 2, 32, SurfaceFlags.PRIMARY))
    with pytest.raises(ProtocolError, match="other row order"):
        c.apply(m.DrawAlphaBlend(m.DisplayBase(0, m.Rect(0, 0, 2, 4), m.Clip(ClipType.NONE)),
                                 0, 255, jpeg_alpha(JpegAlphaFlags.TOP_DOWN, False),
                                 m.Rect(0, 0, 2, 4)))
