"""Protocol numbers, checked against spice-protocol's headers and spice-common's spice.proto.

Everything numeric about SPICE lives here so a later reader verifies one file, not twenty.
"""

from enum import IntEnum, IntFlag
from typing import TypeVar

F = TypeVar("F", bound=type[IntFlag])


def tested_as_ints(cls: F) -> F:
    """Makes ``value & Flag.X`` a plain int. An IntFlag builds a flag object for each
    such test (0.7 us, eight times the test itself), and drawing and decoding test the
    flags of each message a few times: 3000 of the desktop workload's 43000 calls."""
    for operator in ("__and__", "__rand__"):
        setattr(cls, operator, getattr(int, operator))
    return cls


MAGIC = b"REDQ"
VERSION_MAJOR = 2
VERSION_MINOR = 2
TICKET_PUBKEY_BYTES = 162  # RSA-1024 SubjectPublicKeyInfo, DER
TICKET_CIPHER_BYTES = 128
MAX_PASSWORD_LENGTH = 60


class ChannelType(IntEnum):
    MAIN = 1
    DISPLAY = 2
    INPUTS = 3
    CURSOR = 4
    PLAYBACK = 5
    RECORD = 6
    TUNNEL = 7
    SMARTCARD = 8
    USBREDIR = 9
    PORT = 10
    WEBDAV = 11


class LinkError(IntEnum):
    OK = 0
    ERROR = 1
    INVALID_MAGIC = 2
    INVALID_DATA = 3
    VERSION_MISMATCH = 4
    NEED_SECURED = 5
    NEED_UNSECURED = 6
    PERMISSION_DENIED = 7
    BAD_CONNECTION_ID = 8
    CHANNEL_NOT_AVAILABLE = 9


class CommonCap(IntEnum):
    PROTOCOL_AUTH_SELECTION = 0
    AUTH_SPICE = 1
    AUTH_SASL = 2
    MINI_HEADER = 3


class MainCap(IntEnum):
    SEMI_SEAMLESS_MIGRATE = 0
    NAME_AND_UUID = 1
    AGENT_CONNECTED_TOKENS = 2
    SEAMLESS_MIGRATE = 3


class InputsCap(IntEnum):
    KEY_SCANCODE = 0


class KeyModifiers(IntFlag):
    """Keyboard lock states, as INPUTS INIT/KEY_MODIFIERS carry them."""

    SCROLL_LOCK = 1
    NUM_LOCK = 2
    CAPS_LOCK = 4


class MouseButton(IntEnum):
    LEFT = 1
    MIDDLE = 2
    RIGHT = 3
    UP = 4  # wheel
    DOWN = 5
    SIDE = 6
    EXTRA = 7


class MouseButtonMask(IntFlag):
    LEFT = 1
    MIDDLE = 2
    RIGHT = 4
    UP = 8
    DOWN = 16
    SIDE = 32
    EXTRA = 64


# The server acknowledges pointer messages in bunches of this many; spice-gtk keeps at
# most two bunches unacknowledged and merges motion meanwhile.
MOTION_ACK_BUNCH = 4


class PlaybackCap(IntEnum):
    CELT_0_5_1 = 0  # deprecated by spice-server; never advertised
    VOLUME = 1
    LATENCY = 2
    OPUS = 3


class RecordCap(IntEnum):
    CELT_0_5_1 = 0
    VOLUME = 1
    OPUS = 2


class AudioDataMode(IntEnum):
    INVALID = 0
    RAW = 1
    CELT_0_5_1 = 2
    OPUS = 3


class AudioFormat(IntEnum):
    INVALID = 0
    S16 = 1  # signed 16-bit little-endian, channels interleaved


# spice-common's snd_codec.h: Opus frames are 10 ms at 48 kHz, and spice-server reads a
# record DATA message into a buffer of one such frame's raw bytes (S16, stereo).
OPUS_FREQUENCY = 48000
OPUS_FRAME_SAMPLES = 480
RECORD_MAX_DATA_BYTES = OPUS_FRAME_SAMPLES * 2 * 2


class SpicevmcCap(IntEnum):
    DATA_COMPRESS_LZ4 = 0


class DataCompression(IntEnum):
    NONE = 0
    LZ4 = 1


class CursorType(IntEnum):
    ALPHA = 0
    MONO = 1
    COLOR4 = 2
    COLOR8 = 3
    COLOR16 = 4
    COLOR24 = 5
    COLOR32 = 6


@tested_as_ints
class CursorFlags(IntFlag):
    NONE = 1  # no cursor shape: hide it
    CACHE_ME = 2
    FROM_CACHE = 4


class DisplayCap(IntEnum):
    SIZED_STREAM = 0
    MONITORS_CONFIG = 1
    COMPOSITE = 2
    A8_SURFACE = 3
    STREAM_REPORT = 4
    LZ4_COMPRESSION = 5
    PREF_COMPRESSION = 6
    GL_SCANOUT = 7
    MULTI_CODEC = 8
    CODEC_MJPEG = 9
    CODEC_VP8 = 10
    CODEC_H264 = 11
    PREF_VIDEO_CODEC_TYPE = 12
    CODEC_VP9 = 13
    CODEC_H265 = 14


class VideoCodec(IntEnum):
    MJPEG = 1
    VP8 = 2
    H264 = 3
    VP9 = 4
    H265 = 5


@tested_as_ints
class StreamFlags(IntFlag):
    TOP_DOWN = 1


class NotifySeverity(IntEnum):
    INFO = 0
    WARN = 1
    ERROR = 2


class MouseMode(IntFlag):
    SERVER = 1
    CLIENT = 2


class ImageType(IntEnum):
    BITMAP = 0
    QUIC = 1
    RESERVED = 2
    LZ_PLT = 100
    LZ_RGB = 101
    GLZ_RGB = 102
    FROM_CACHE = 103
    SURFACE = 104
    JPEG = 105
    FROM_CACHE_LOSSLESS = 106
    ZLIB_GLZ_RGB = 107
    JPEG_ALPHA = 108
    LZ4 = 109


class ImageCompression(IntEnum):
    INVALID = 0
    OFF = 1
    AUTO_GLZ = 2
    AUTO_LZ = 3
    QUIC = 4
    GLZ = 5
    LZ = 6
    LZ4 = 7


@tested_as_ints
class JpegAlphaFlags(IntFlag):
    TOP_DOWN = 1


class ResourceType(IntEnum):
    INVALID = 0
    PIXMAP = 1


@tested_as_ints
class ImageFlags(IntFlag):
    CACHE_ME = 1
    HIGH_BITS_SET = 2
    CACHE_REPLACE_ME = 4


class BitmapFormat(IntEnum):
    INVALID = 0
    BIT1_LE = 1
    BIT1_BE = 2
    BIT4_LE = 3
    BIT4_BE = 4
    BIT8 = 5
    BIT16 = 6  # x1r5g5b5
    BIT24 = 7  # b, g, r bytes
    BIT32 = 8  # x, r, g, b in a little-endian u32
    RGBA = 9  # a, r, g, b in a little-endian u32
    BIT8_A = 10


@tested_as_ints
class BitmapFlags(IntFlag):
    PAL_CACHE_ME = 1
    PAL_FROM_CACHE = 2
    TOP_DOWN = 4


class ClipType(IntEnum):
    NONE = 0
    RECTS = 1


class BrushType(IntEnum):
    NONE = 0
    SOLID = 1
    PATTERN = 2


@tested_as_ints
class Ropd(IntFlag):
    INVERS_SRC = 1 << 0
    INVERS_BRUSH = 1 << 1
    INVERS_DEST = 1 << 2
    OP_PUT = 1 << 3
    OP_OR = 1 << 4
    OP_AND = 1 << 5
    OP_XOR = 1 << 6
    OP_BLACKNESS = 1 << 7
    OP_WHITENESS = 1 << 8
    OP_INVERS = 1 << 9
    INVERS_RES = 1 << 10


@tested_as_ints
class AlphaFlags(IntFlag):
    DEST_HAS_ALPHA = 1
    SRC_SURFACE_HAS_ALPHA = 2


@tested_as_ints
class PathFlags(IntFlag):
    BEGIN = 1 << 0
    END = 1 << 1
    CLOSE = 1 << 3
    BEZIER = 1 << 4


@tested_as_ints
class LineFlags(IntFlag):
    # The values of the Windows display driver's LA_STARTGAP and LA_STYLED.
    START_WITH_GAP = 1 << 2
    STYLED = 1 << 3


@tested_as_ints
class StringFlags(IntFlag):
    RASTER_A1 = 1 << 0
    RASTER_A4 = 1 << 1
    RASTER_A8 = 1 << 2
    RASTER_TOP_DOWN = 1 << 3


@tested_as_ints
class CompositeFlags(IntFlag):
    """DRAW_COMPOSITE's flags word. Besides these bits it packs pixman enums: the operator
    in bits 0-7, source and mask filters in bits 8-10 and 11-13, source and mask repeat
    modes in bits 14-15 and 16-17."""

    COMPONENT_ALPHA = 1 << 18
    HAS_MASK = 1 << 19
    HAS_SRC_TRANSFORM = 1 << 20
    HAS_MASK_TRANSFORM = 1 << 21
    SOURCE_OPAQUE = 1 << 22
    MASK_OPAQUE = 1 << 23
    DEST_OPAQUE = 1 << 24


class SurfaceFormat(IntEnum):
    INVALID = 0
    A1 = 1
    A8 = 8
    RGB555 = 16
    RGB565 = 80
    XRGB32 = 32
    ARGB32 = 96


@tested_as_ints
class SurfaceFlags(IntFlag):
    PRIMARY = 1
