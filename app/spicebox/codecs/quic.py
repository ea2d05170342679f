"""SPICE QUIC images: spice-common's lossless predictive coder (SFALIC), per quic.c.

The stream is little-endian 32-bit words read most significant bit first: a header
(magic, version, type, width, height) then the rows, top row first. Each channel value
is predicted from its neighbours (row 0: the pixel to the left; other rows: the mean of
left and above), the error is folded to a non-negative number and Golomb-Rice coded
with a code chosen by a *bucket* keyed on the previous pixel's coded error. Buckets
learn from a pseudo-random sample of the pixels (the sample thins out as the image
goes on), so the model, and therefore every later code, depends on every value decoded
before it: the entropy decoding cannot be vectorised and runs pixel by pixel.

Where the pixel above equals the one above-left and the last two decoded pixels are
equal, the coder may switch to run-length mode; run lengths use JPEG-LS's adaptive run
code (quic.c's "melcode"). RGB types share one sampling and run state across their
three channels; RGBA follows each RGB row with the same row of its alpha channel, coded
like a grey image with its own state.

This is a slow path, like LZ: the client asks for LZ4 or raw bitmaps, but a server set
to QUIC, or picking it for photographic images in its automatic modes, still sends it.
In pure Python the decoder is shaped for the interpreter rather than transliterated:
codewords of up to 12 bits decode with one table lookup that also yields the unfolded
error and the next context; the bit reader is a list of overlapping 64-bit windows
indexed by bit position, so it never refills; each row's pixels go into lists, and its
run condition on the row above is worked out for the whole row at once; a bucket's
counters live in one integer, so charging them is one addition.

The GRAY type, which spice-server never sends and spice-gtk's canvas refuses, comes
out as grey XRGB.
"""

from __future__ import annotations

import struct
from collections.abc import Generator

import numpy as np
import numpy.typing as npt

from ..spice.errors import ProtocolError
from .pixels import Pixels

_HEADER = struct.Struct("<5I")
QUIC_MAGIC = 0x43495551  # "QUIC"
QUIC_VERSION = 0  # quic.c means 0.1 but its QUIC_VERSION macro uses the major number twice
GRAY, RGB16, RGB24, RGB32, RGBA = range(1, 6)  # QuicImageType
_CHANNELS = {GRAY: 1, RGB16: 3, RGB24: 3, RGB32: 3, RGBA: 4}

_MAX_CODE_BITS = 26  # quic.c's DEFmaxclen: no codeword is longer
# Codewords this long or shorter decode by table; the hot loops hard-code the 12 as
# 52 = 64 - 12 and 4095 = 2**12 - 1.
_FAST_BITS = 12
# The sampling schedule (evol 3): the wait mask index grows every 2048 pixels up to 6,
# and a bucket's counters halve once its best code length passes the trigger.
_WMIMAX = 6
_WMINEXT = 2048
_TRIGGERS = (110, 550, 900, 800, 550, 400, 350)
# Run-length code: the "expected" run is 2**_MELC_BITS[state] pixels.
_MELC_BITS = (0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
              4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15)
_MELC_MAX = len(_MELC_BITS) - 1
_LEADING_ONES = bytes(8 - (~b & 255).bit_length() for b in range(256))
# quic.c's tabrand_chaos: the pseudo-random waits between model updates.
_CHAOS = (
    0x02c57542, 0x35427717, 0x2f5a2153, 0x9244f155, 0x7bd26d07, 0x354c6052, 0x57329b28,
    0x2993868e, 0x6cd8808c, 0x147b46e0, 0x99db66af, 0xe32b4cac, 0x1b671264, 0x9d433486,
    0x62a4c192, 0x06089a4b, 0x9e3dce44, 0xdaabee13, 0x222425ea, 0xa46f331d, 0xcd589250,
    0x8bb81d7f, 0xc8b736b9, 0x35948d33, 0xd7ac7fd0, 0x5fbe2803, 0x2cfbc105, 0x013dbc4e,
    0x7a37820f, 0x39f88e9e, 0xedd58794, 0xc5076689, 0xfcada5a4, 0x64c2f46d, 0xb3ba3243,
    0x8974b4f9, 0x5a05aebd, 0x20afcd00, 0x39e2b008, 0x88a18a45, 0x600bde29, 0xf3971ace,
    0xf37b0a6b, 0x7041495b, 0x70b707ab, 0x06beffbb, 0x4206051f, 0xe13c4ee3, 0xc1a78327,
    0x91aa067c, 0x8295f72a, 0x732917a6, 0x1d871b4d, 0x4048f136, 0xf1840e7e, 0x6a6048c1,
    0x696cb71a, 0x7ff501c3, 0x0fc6310b, 0x57e0f83d, 0x8cc26e74, 0x11a525a2, 0x946934c7,
    0x7cd888f0, 0x8f9d8604, 0x4f86e73b, 0x04520316, 0xdeeea20c, 0xf1def496, 0x67687288,
    0xf540c5b2, 0x22401484, 0x3478658a, 0xc2385746, 0x01979c2c, 0x5dad73c8, 0x0321f58b,
    0xf0fedbee, 0x92826ddf, 0x284bec73, 0x5b1a1975, 0x03df1e11, 0x20963e01, 0xa17cf12b,
    0x740d776e, 0xa7a6bf3c, 0x01b5cce4, 0x1118aa76, 0xfc6fac0a, 0xce927e9b, 0x00bf2567,
    0x806f216c, 0xbca69056, 0x795bd3e9, 0xc9dc4557, 0x8929b6c2, 0x789d52ec, 0x3f3fbf40,
    0xb9197368, 0xa38c15b5, 0xc3b44fa8, 0xca8333b0, 0xb7e8d590, 0xbe807feb, 0xbf5f8360,
    0xd99e2f5c, 0x372928e1, 0x7c757c4c, 0x0db5b154, 0xc01ede02, 0x1fc86e78, 0x1f3985be,
    0xb4805c77, 0x00c880fa, 0x974c1b12, 0x35ab0214, 0xb2dc840d, 0x5b00ae37, 0xd313b026,
    0xb260969d, 0x7f4c8879, 0x1734c4d3, 0x49068631, 0xb9f6a021, 0x6b863e6f, 0xcee5debf,
    0x29f8c9fb, 0x53dd6880, 0x72b61223, 0x1f67a9fd, 0x0a0f6993, 0x13e59119, 0x11cca12e,
    0xfe6b6766, 0x16b6effc, 0x97918fc4, 0xc2b8a563, 0x94f2f741, 0x0bfa8c9a, 0xd1537ae8,
    0xc1da349c, 0x873c60ca, 0x95005b85, 0x9b5c080e, 0xbc8abbd9, 0xe1eab1d2, 0x6dac9070,
    0x4ea9ebf1, 0xe0cf30d4, 0x1ef5bd7b, 0xd161043e, 0x5d2fa2e2, 0xff5d3cae, 0x86ed9f87,
    0x2aa1daa1, 0xbd731a34, 0x9e8f4b22, 0xb1c2c67a, 0xc21758c9, 0xa182215d, 0xccb01948,
    0x8d168df7, 0x04238cfe, 0x368c3dbc, 0x0aeadca5, 0xbad21c24, 0x0a71fee5, 0x9fc5d872,
    0x54c152c6, 0xfc329483, 0x6783384a, 0xeddb3e1c, 0x65f90e30, 0x884ad098, 0xce81675a,
    0x4b372f7d, 0x68bf9a39, 0x43445f1e, 0x40f8d8cb, 0x90d5acb6, 0x4cd07282, 0x349eeb06,
    0x0c9d5332, 0x520b24ef, 0x80020447, 0x67976491, 0x2f931ca3, 0xfe9b0535, 0xfcd30220,
    0x61a9e6cc, 0xa487d8d7, 0x3f7c5dd1, 0x7d0127c5, 0x48f51d15, 0x60dea871, 0xc9a91cb7,
    0x58b53bb3, 0x9d5e0b2d, 0x624a78b4, 0x30dbee1b, 0x9bdf22e7, 0x1df5c299, 0x2d5643a7,
    0xf4dd35ff, 0x03ca8fd6, 0x53b47ed8, 0x6f2c19aa, 0xfeb0c1f4, 0x49e54438, 0x2f2577e6,
    0xbf876969, 0x72440ea9, 0xfa0bafb8, 0x74f5b3a0, 0x7dd357cd, 0x89ce1358, 0x6ef2cdda,
    0x1e7767f3, 0xa6be9fdb, 0x4f5f88f8, 0xba994a3a, 0x08ca6b65, 0xe0893818, 0x9e00a16a,
    0xf42bfc8f, 0x9972eedc, 0x749c8b51, 0x32c05f5e, 0xd706805f, 0x6bfbb7cf, 0xd9210a10,
    0x31a1db97, 0x923a9559, 0x37a7a1f6, 0x059f8861, 0xca493e62, 0x65157e81, 0x8f6467dd,
    0xab85ff9f, 0x9331aff2, 0x8616b9f5, 0xedbd5695, 0xee7e29b1, 0x313ac44f, 0xb903112f,
    0x432ef649, 0xdc0a36c0, 0x61cf2bba, 0x81474925, 0xa8b6c7ad, 0xee5931de, 0xb2f8158d,
    0x59fb7409, 0x2e3dfaed, 0x9af25a3f, 0xe1fed4d5,
)


class _Family:
    """The Golomb codes for one channel depth (8 bits, or 5 for RGB16)."""

    def __init__(self, bpc: int) -> None:
        levels = 1 << bpc
        mask = levels - 1
        self.bpc = bpc
        self.levels = levels
        # Errors are folded 0, -1, 1, -2, ... -> 0, 1, 2, 3 ...; unfold modulo the depth.
        self.unfold = [mask - (s >> 1) if s & 1 else s >> 1 for s in range(levels)]
        # Per code: the leading zeros that mark an escape, the value of the first escape
        # codeword, its length, and the length of its binary part.
        self.escape_zeros: list[int] = []
        self.escape_base: list[int] = []
        self.escape_bits: list[int] = []
        self.escape_suffix: list[int] = []
        code_bits = [[0] * bpc for _ in range(levels)]  # [value][code]: codeword length
        self.tables: list[list[tuple[int, int, int]]] = []
        for code in range(bpc):
            # Code `code` is Golomb-Rice with 2**code values per unary step, cut short
            # at a fixed-length escape so no codeword passes _MAX_CODE_BITS.
            prefix = min(_MAX_CODE_BITS - bpc, (1 << (bpc - code)) - 1)
            base = prefix << code
            suffix = (levels - base - 1).bit_length()
            self.escape_zeros.append(prefix)
            self.escape_base.append(base)
            self.escape_bits.append(prefix + suffix)
            self.escape_suffix.append(suffix)
            # Longer codewords find (0, code, 0) here and take long_code().
            table = [(0, code, 0)] * (1 << _FAST_BITS)
            for value in range(levels):
                if value < base:  # unary quotient, a 1, then `code` low bits
                    word = 1 << code | value & ((1 << code) - 1)
                    length = (value >> code) + code + 1
                else:  # `prefix` zeros then value - base in binary
                    word, length = value - base, prefix + suffix
                code_bits[value][code] = length
                if length <= _FAST_BITS:
                    spread = _FAST_BITS - length
                    entry = (length, value, self.unfold[value])
                    table[word << spread:word + 1 << spread] = [entry] * (1 << spread)
            self.tables.append(table)
        # Per value, the length of its codeword in each code, packed in 32-bit fields from
        # the highest code up so one addition charges a bucket's counters; they stay
        # under 2**16 as they halve once the least passes the trigger.
        self.costs = [sum(length << 32 * rank for rank, length in enumerate(reversed(lengths)))
                      for lengths in code_bits]
        self.unpack_counters = struct.Struct(f"<{bpc}I").unpack
        self.halve_mask = sum(0x7FFFFFFF << 32 * rank for rank in range(bpc))
        # Buckets group contexts 0 | 1-2 | 3-6 | 7-14 ...; the last one takes the rest
        # as soon as another bucket of the same size would not fit.
        self.buckets: list[tuple[int, int]] = []
        start, size = 0, 1
        while start < levels:
            end = levels if start + 2 * size - 1 >= levels else start + size
            self.buckets.append((start, end))
            start, size = end, size * 2
        self.bucket_of = [b for b, (lo, hi) in enumerate(self.buckets) for _ in range(lo, hi)]

    def long_code(self, bits: list[int], pos: int, code: int) -> tuple[int, int, int]:
        """Decode a codeword longer than the table covers: (length, value, unfolded)."""
        window = bits[pos >> 5] >> (32 - (pos & 31)) & 0xFFFFFFFF
        zeros = 32 - window.bit_length()
        if zeros < self.escape_zeros[code]:
            length = zeros + 1 + code
            value = zeros << code | window >> (32 - length) & ((1 << code) - 1)
        else:
            length = self.escape_bits[code]
            value = (self.escape_base[code]
                     + (window >> (32 - length) & ((1 << self.escape_suffix[code]) - 1)))
            if value >= self.levels:
                raise ProtocolError(f"QUIC codeword for {value}, past the "
                                    f"{self.bpc}-bit channel depth")
        return length, value, self.unfold[value]


_FAMILY_8 = _Family(8)
_FAMILY_5 = _Family(5)


class _Model:
    """One channel's buckets: per context, the decoding table of its best code so far."""

    __slots__ = ("bucket_of", "buckets", "costs", "counters", "halve_mask", "ranked", "size",
                 "tables", "unpack")

    def __init__(self, family: _Family) -> None:
        self.bucket_of, self.buckets, self.costs = family.bucket_of, family.buckets, family.costs
        self.unpack, self.halve_mask = family.unpack_counters, family.halve_mask
        self.size = 4 * family.bpc
        self.ranked = family.tables[::-1]  # in the order of the counters
        self.tables = [self.ranked[0]] * family.levels  # indexed by context
        self.counters = [0] * len(family.buckets)  # packed as the costs

    def update(self, context: int, value: int, trigger: int) -> None:
        """Charge each code with the bits ``value`` would have cost; keep the cheapest."""
        bucket = self.bucket_of[context]
        counters = self.counters[bucket] + self.costs[value]
        totals = self.unpack(counters.to_bytes(self.size, "little"))
        best_total = min(totals)
        self.counters[bucket] = (counters if best_total <= trigger
                                 else counters >> 1 & self.halve_mask)
        # Counters run from the highest code up: quic.c keeps the first minimum it
        # meets scanning in that order.
        table = self.ranked[totals.index(best_total)]
        if table is not self.tables[context]:
            lo, hi = self.buckets[bucket]
            self.tables[lo:hi] = [table] * (hi - lo)


class _Schedule:
    """The wait mask index of a pass: it grows every 2048 pixels decoded, up to 6."""

    __slots__ = ("steady", "wmidx", "wmileft")

    def __init__(self) -> None:
        self.wmidx = 0
        self.wmileft = _WMINEXT
        self.steady: list[tuple[int, int, int]] = []

    def segments(self, width: int) -> list[tuple[int, int, int]]:
        """Cut a row where the wait mask grows: (end, wait mask, trigger) per piece.

        Runs never cross a cut; a run may start right at one."""
        if self.steady:
            return self.steady
        pieces = []
        start = 0
        while self.wmidx < _WMIMAX and self.wmileft <= width - start:
            start += self.wmileft
            pieces.append((start, (1 << self.wmidx) - 1, _TRIGGERS[self.wmidx]))
            self.wmidx += 1
            self.wmileft = _WMINEXT
        if start < width:
            pieces.append((width, (1 << self.wmidx) - 1, _TRIGGERS[self.wmidx]))
            if self.wmidx < _WMIMAX:
                self.wmileft -= width - start
        if self.wmidx == _WMIMAX:
            self.steady = [(width, (1 << _WMIMAX) - 1, _TRIGGERS[_WMIMAX])]
        return pieces


def _run(bits: list[int], pos: int, melc: int, limit: int) -> tuple[int, int, int]:
    """Decode a run length of at most ``limit``: (length, new pos, new melcode state)."""
    run = 0
    while True:
        ones = _LEADING_ONES[bits[pos >> 5] >> (56 - (pos & 31)) & 255]
        for _ in range(ones):  # each 1 stands for a whole expected run
            run += 1 << _MELC_BITS[melc]
            if melc < _MELC_MAX:
                melc += 1
        if run > limit:
            raise ProtocolError("QUIC run past the end of its row")
        if ones < 8:
            pos += ones + 1
            break
        pos += 8
    width = _MELC_BITS[melc]
    if width:  # then the rest of the run in binary
        run += bits[pos >> 5] >> (64 - width - (pos & 31)) & ((1 << width) - 1)
        pos += width
        if run > limit:
            raise ProtocolError("QUIC run past the end of its row")
    return run, pos, melc - 1 if melc else 0


def _changes(planes: tuple[bytes, ...]) -> list[int]:
    """Item i is 0 where pixel i equals pixel i - 1 in every plane: half of the run
    condition, taken on the row above. Pixels 0 to 2 never start runs, so never 0."""
    changed = 0xFFFFFF
    for plane in planes:
        values = int.from_bytes(plane, "little")
        changed |= values ^ values << 8
    return list(changed.to_bytes(max(len(planes[0]) + 1, 3), "little"))


def _windows(data: memoryview, words: int, pad: int) -> list[int]:
    """The stream as overlapping 64-bit windows: entry k holds words k and k + 1, so the
    bits from any position p start at bit 63 - (p & 31) of entry p >> 5. ``pad`` zero
    words let a row overrun the stream harmlessly until the caller checks."""
    stream = np.zeros(words + pad + 1, np.uint64)
    stream[:words] = np.frombuffer(data, "<u4", words)
    windows: list[int] = (stream[:-1] << np.uint64(32) | stream[1:]).tolist()
    return windows


_Rows = list[tuple[bytes, ...]]
# A pass decodes a row each time it is sent the bit position, and yields the new one.
_Pass = Generator[int, int, None]


def _rgb_pass(bits: list[int], family: _Family, width: int, rows: _Rows) -> _Pass:
    """Decode the three RGB channels, which share one sampling and run state."""
    models = [_Model(family) for _ in range(3)]
    tables_r, tables_g, tables_b = (model.tables for model in models)
    update_r, update_g, update_b = (model.update for model in models)
    long_code = family.long_code
    mask = family.levels - 1
    schedule = _Schedule()
    left = melc = 0  # pixels to decode before the next model update; run-length state
    seed = 255  # index of the last wait drawn from _CHAOS
    # Per channel, the coded errors of the latest row shifted by one: [i] is the context
    # of pixel i, [0] the row above's first error (0 on row 0).
    qr, qg, qb = ([0] * (width + 1) for _ in range(3))

    # Row 0: each value is predicted by the one on its left.
    pos = yield 0
    cr, cg, cb = [0] * width, [0] * width, [0] * width
    xr = xg = xb = r = g = b = 0
    start = 0
    for end, waitmask, trigger in schedule.segments(width):
        for i in range(start, end):
            j = i + 1
            n, xr, u = tables_r[xr][bits[pos >> 5] >> (52 - (pos & 31)) & 4095]
            if not n:
                n, xr, u = long_code(bits, pos, xr)
            pos += n
            cr[i] = r = (u + r) & mask
            qr[j] = xr
            n, xg, u = tables_g[xg][bits[pos >> 5] >> (52 - (pos & 31)) & 4095]
            if not n:
                n, xg, u = long_code(bits, pos, xg)
            pos += n
            cg[i] = g = (u + g) & mask
            qg[j] = xg
            n, xb, u = tables_b[xb][bits[pos >> 5] >> (52 - (pos & 31)) & 4095]
            if not n:
                n, xb, u = long_code(bits, pos, xb)
            pos += n
            cb[i] = b = (u + b) & mask
            qb[j] = xb
            if left:
                left -= 1
            else:
                seed = (seed + 1) & 255
                left = _CHAOS[seed] & waitmask
                update_r(qr[i], xr, trigger)
                update_g(qg[i], xg, trigger)
                update_b(qb[i], xb, trigger)
        start = end
    row = bytes(cr), bytes(cg), bytes(cb)
    rows.append(row)

    # Later rows: predicted by the mean of left and above, with runs.
    while True:
        pos = yield pos
        pr, pg, pb = cr, cg, cb
        changes = _changes(row)
        cr, cg, cb = [0] * width, [0] * width, [0] * width
        qr[0], qg[0], qb[0] = xr, xg, xb = qr[1], qg[1], qb[1]
        # With "left" set to the pixel above, pixel 0's prediction comes out as just above.
        r, g, b = pr[0], pg[0], pb[0]
        i = 0
        for end, waitmask, trigger in schedule.segments(width):
            run_at = 0  # where the last run started: an empty run there must not repeat
            while i < end:
                if (not changes[i] and i != run_at
                        and r == cr[i - 2] and g == cg[i - 2] and b == cb[i - 2]):
                    run_at = i
                    run, pos, melc = _run(bits, pos, melc, end - i)
                    if run:
                        cr[i:i + run] = [r] * run
                        cg[i:i + run] = [g] * run
                        cb[i:i + run] = [b] * run
                        i += run
                        # Runs code no errors: the context is whatever this position
                        # last held, as in quic.c.
                        xr, xg, xb = qr[i], qg[i], qb[i]
                    continue
                j = i + 1
                n, xr, u = tables_r[xr][bits[pos >> 5] >> (52 - (pos & 31)) & 4095]
                if not n:
                    n, xr, u = long_code(bits, pos, xr)
                pos += n
                cr[i] = r = (u + ((r + pr[i]) >> 1)) & mask
                qr[j] = xr
                n, xg, u = tables_g[xg][bits[pos >> 5] >> (52 - (pos & 31)) & 4095]
                if not n:
                    n, xg, u = long_code(bits, pos, xg)
                pos += n
                cg[i] = g = (u + ((g + pg[i]) >> 1)) & mask
                qg[j] = xg
                n, xb, u = tables_b[xb][bits[pos >> 5] >> (52 - (pos & 31)) & 4095]
                if not n:
                    n, xb, u = long_code(bits, pos, xb)
                pos += n
                cb[i] = b = (u + ((b + pb[i]) >> 1)) & mask
                qb[j] = xb
                if left:
                    left -= 1
                else:
                    seed = (seed + 1) & 255
                    left = _CHAOS[seed] & waitmask
                    update_r(qr[i], xr, trigger)
                    update_g(qg[i], xg, trigger)
                    update_b(qb[i], xb, trigger)
                i = j
        row = bytes(cr), bytes(cg), bytes(cb)
        rows.append(row)


def _one_pass(bits: list[int], width: int, rows: _Rows) -> _Pass:
    """Decode a lone 8-bit channel (grey, or RGBA's alpha) with its own state; as
    _rgb_pass."""
    model = _Model(_FAMILY_8)
    tables, update, long_code = model.tables, model.update, _FAMILY_8.long_code
    schedule = _Schedule()
    left = melc = 0
    seed = 255
    ctx = [0] * (width + 1)

    pos = yield 0
    cur = [0] * width
    x = a = 0
    start = 0
    for end, waitmask, trigger in schedule.segments(width):
        for i in range(start, end):
            n, x, u = tables[x][bits[pos >> 5] >> (52 - (pos & 31)) & 4095]
            if not n:
                n, x, u = long_code(bits, pos, x)
            pos += n
            cur[i] = a = (u + a) & 255
            ctx[i + 1] = x
            if left:
                left -= 1
            else:
                seed = (seed + 1) & 255
                left = _CHAOS[seed] & waitmask
                update(ctx[i], x, trigger)
        start = end
    row = (bytes(cur),)
    rows.append(row)

    while True:
        pos = yield pos
        prev = cur
        changes = _changes(row)
        cur = [0] * width
        ctx[0] = x = ctx[1]
        a = prev[0]
        i = 0
        for end, waitmask, trigger in schedule.segments(width):
            run_at = 0
            while i < end:
                if not changes[i] and i != run_at and a == cur[i - 2]:
                    run_at = i
                    run, pos, melc = _run(bits, pos, melc, end - i)
                    if run:
                        cur[i:i + run] = [a] * run
                        i += run
                        x = ctx[i]
                    continue
                n, x, u = tables[x][bits[pos >> 5] >> (52 - (pos & 31)) & 4095]
                if not n:
                    n, x, u = long_code(bits, pos, x)
                pos += n
                cur[i] = a = (u + ((a + prev[i]) >> 1)) & 255
                ctx[i + 1] = x
                if left:
                    left -= 1
                else:
                    seed = (seed + 1) & 255
                    left = _CHAOS[seed] & waitmask
                    update(ctx[i], x, trigger)
                i += 1
        row = (bytes(cur),)
        rows.append(row)


def _planes(rows: _Rows, width: int) -> list[npt.NDArray[np.uint32]]:
    return [np.frombuffer(b"".join(row[c] for row in rows), np.uint8)
            .reshape(len(rows), width).astype(np.uint32) for c in range(len(rows[0]))]


def carries_alpha(data: memoryview) -> bool:
    """Whether the stream's header announces an RGBA image (a short one does not)."""
    return len(data) >= _HEADER.size and _HEADER.unpack_from(data)[2] == RGBA


def decode_quic(data: memoryview, width: int, height: int) -> Pixels:
    """Decode a QUIC image of ``width`` x ``height`` to XRGB (ARGB for RGBA), top row first."""
    if len(data) < _HEADER.size:
        raise ProtocolError("QUIC image shorter than its header")
    magic, version, kind, q_width, q_height = _HEADER.unpack_from(data)
    if magic != QUIC_MAGIC or version != QUIC_VERSION:
        raise ProtocolError(f"QUIC image with magic {magic:#x} version {version:#x}")
    if kind not in _CHANNELS:
        raise ProtocolError(f"QUIC image of unknown type {kind}")
    if (q_width, q_height) != (width, height):
        raise ProtocolError(f"QUIC image of {q_width}x{q_height} in an image of "
                            f"{width}x{height}")
    if width <= 0 or height <= 0:
        raise ProtocolError(f"QUIC image of {width}x{height} has no pixels")
    words = len(data) // 4
    # quic.c keeps the next 32 bits loaded and fails when the stream cannot supply them.
    limit = 32 * (words - 1)
    pos = 8 * _HEADER.size
    if pos + width * _CHANNELS[kind] > limit:  # row 0 codes every value, in 1 bit at least
        raise ProtocolError(f"QUIC image of {width}x{height} truncated to {len(data)} bytes")
    # A row of one pass codes at most 26 bits per value plus under 17 per run.
    bits = _windows(data, words, pad=3 * width + 4)
    color: _Rows = []
    alpha: _Rows = []
    if kind == GRAY:
        passes = [_one_pass(bits, width, color)]
    else:
        passes = [_rgb_pass(bits, _FAMILY_5 if kind == RGB16 else _FAMILY_8, width, color)]
        if kind == RGBA:
            passes.append(_one_pass(bits, width, alpha))
    for one in passes:
        next(one)
    for _ in range(height):
        for one in passes:
            pos = one.send(pos)
            if pos > limit:
                raise ProtocolError(f"QUIC image of {width}x{height} truncated to "
                                    f"{len(data)} bytes")
    if kind == GRAY:
        (grey,) = _planes(color, width)
        xrgb: Pixels = grey * np.uint32(0x010101)
        return xrgb
    r, g, b = _planes(color, width)
    if kind == RGB16:  # widen 5 bits to 8 as quic.c's RGB16-to-32 output does
        r, g, b = ((v << 3 | v >> 2).astype(np.uint32, copy=False) for v in (r, g, b))
    xrgb = (r << 16 | g << 8 | b).astype(np.uint32, copy=False)
    if kind == RGBA:
        (a,) = _planes(alpha, width)
        xrgb |= a << np.uint32(24)
    return xrgb
