"""DRAW_STROKE as spice-gtk draws it: canvas_draw_stroke over spice-common's lines.c.

spice-gtk strokes every path with zero-width lines, whatever the line attributes say: it
flattens curves, then draws plain lines with the X server's thin-line Bresenham
(miZeroLine) and styled lines with X's dashed wide-line code at width 1 (miWideDash), so
a dash is a thin polygon and consecutive dashes are joined with mitres. Lines leave out
their last pixel, as Windows cosmetic lines do. Both are reproduced here pixel for pixel:
integer arithmetic where X uses integers, and where it uses doubles, the same sequence of
double operations.

Pixels come out as coordinate lists; a pixel listed n times gets the ROP n times, which
is what spice-gtk does when two lines cross (see ``rop.apply_times``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ..codecs.pixels import Pixels
from ..spice import messages as m
from ..spice.constants import LineFlags, PathFlags
from ..spice.errors import ProtocolError
from . import rop
from .brush import Paint, Tile
from .region import Region
from .surface import Box

Ints = npt.NDArray[np.int64]

# What one stroke may cost, whatever its path claims; real strokes stay far below.
MAX_STROKE_POINTS = 1 << 18  # after flattening curves; real paths have hundreds
MAX_STROKE_PIXELS = 1 << 24  # pixels touched, counted with repeats
MAX_DASHES = 1 << 20  # dashes stepped through, visible or not
MAX_DASH_POLYGONS = 1 << 16  # visible dashes and joins, each rasterised on its own
# spice-gtk halves a curve until it is flat, without limit: a curve whose ends lie within
# a quarter pixel of each other is never flat by its test unless all four points
# coincide, and wrapped 64-bit products can keep any piece from passing it. Deeper than
# this the pieces are below a pixel for any curve that fits in 28.4 coordinates.
_BEZIER_DEPTH = 24

# X's thin-line bias: where the error term is exactly zero, lines in octants 2 to 5 (x
# decreasing unless steeply downwards, or y decreasing steeply) take only the major step.
_ZERO_LINE_BIAS = 1 << 3 | 1 << 7 | 1 << 6 | 1 << 4
_X_DECREASING, _Y_DECREASING, _Y_MAJOR = 4, 2, 1
# X's miter limit, 1 / sin^2(11 degrees / 2): sharper joins are bevelled.
_SQ_SECANT = 108.856472512142


def fix_to_int(v: int) -> int:
    """28.4 to pixels as spice-gtk rounds: a fraction above one half rounds up."""
    return (v >> 4) + ((v & 15) > 8)


def _wrap32(v: int) -> int:
    return (v + (1 << 31) & 0xFFFFFFFF) - (1 << 31)


def _wrap64(v: int) -> int:
    return (v + (1 << 63) & 0xFFFFFFFFFFFFFFFF) - (1 << 63)


# --- paths to polylines (canvas_draw_stroke) --------------------------------------------

Fix = tuple[int, int]


def _flat(p0: Fix, p1: Fix, p2: Fix, p3: Fix) -> bool:
    """spice-gtk's test: both control points within half a pixel of the chord, computed
    in 28.4 with 64-bit products (which wrap for curves wider than some 10000 pixels)."""
    def d(a: Fix, b: Fix) -> Fix:
        return _wrap32(a[0] - b[0]), _wrap32(a[1] - b[1])

    def dot(u: Fix, v: Fix) -> int:
        return _wrap64(u[0] * v[0] + u[1] * v[1]) >> 4

    a, b, c = d(p1, p0), d(p3, p0), d(p2, p3)
    a2, b2, c2 = dot(a, a), dot(b, b), dot(c, c)
    ab, cb = dot(a, b), dot(c, d(p0, p3))
    h1 = _wrap64(a2 * b2 - ab * ab) >> 3
    h2 = _wrap64(c2 * b2 - cb * cb) >> 3
    return h1 < b2 and h2 < b2


def _mid(a: Fix, b: Fix) -> Fix:
    # C's int division truncates toward zero.
    return (int(_wrap32(a[0] + b[0]) / 2), int(_wrap32(a[1] + b[1]) / 2))


def _bezier(out: list[tuple[int, int]], p0: Fix, p1: Fix, p2: Fix, p3: Fix, limit: int
            ) -> None:
    """Append the flattened curve's points to ``out``, which may grow to ``limit``."""
    stack = [(p0, p1, p2, p3, 0)]
    while stack:
        a, b, c, d, depth = stack.pop()
        if depth >= _BEZIER_DEPTH or a == b == c == d or _flat(a, b, c, d):
            out.append((fix_to_int(d[0]), fix_to_int(d[1])))
            if len(out) > limit:
                raise ProtocolError(f"stroke path of more than {MAX_STROKE_POINTS} points")
            continue
        ab, bc, cd = _mid(a, b), _mid(b, c), _mid(c, d)
        abc, bcd = _mid(ab, bc), _mid(bc, cd)
        abcd = _mid(abc, bcd)
        stack.append((abcd, bcd, cd, d, depth + 1))  # popped second
        stack.append((a, ab, abc, abcd, depth + 1))


class _Polyline:
    """The pixel points gathered since the last BEGIN, as arrays in order."""

    def __init__(self) -> None:
        self.parts: list[Ints] = []

    def add(self, points: Ints) -> None:
        if len(points):
            self.parts.append(points)

    def last(self) -> tuple[int, int] | None:
        return (int(self.parts[-1][-1, 0]), int(self.parts[-1][-1, 1])) if self.parts else None

    def take(self) -> Ints | None:
        points = np.concatenate(self.parts) if self.parts else None
        self.parts = []
        return points


def polylines(path: m.Path) -> list[Ints]:
    """The pixel polylines spice-gtk strokes for ``path``, each an (n, 2) array of x, y.

    A figure starts at a BEGIN segment's first point; BEZIER segments hold control-point
    triples; END closes the figure back to its first point if CLOSE is set. Malformed
    figures, which spice-gtk would read past its arrays for, are protocol errors."""
    out: list[Ints] = []
    current = _Polyline()
    total = 0

    def finish() -> None:
        points = current.take()
        if points is not None:
            out.append(points)

    for seg in path.segments:
        fixed = np.frombuffer(seg.points, "<i4").reshape(-1, 2).astype(np.int64)
        rest = fixed
        if seg.flags & PathFlags.BEGIN:
            finish()
            if not len(fixed):
                raise ProtocolError("stroke path figure begins without a point")
            rest = fixed[1:]
            current.add(_to_pixels(fixed[:1]))
        if seg.flags & PathFlags.BEZIER:
            if len(rest) % 3:
                raise ProtocolError(f"stroke path curve of {len(rest)} control points, not "
                                    f"a multiple of 3")
            curve: list[tuple[int, int]] = []
            for i in range(0, len(rest), 3):
                start = curve[-1] if curve else current.last()
                if start is None:
                    raise ProtocolError("stroke path curve without a start point")
                c = [(int(x), int(y)) for x, y in rest[i:i + 3]]
                _bezier(curve, (start[0] << 4, start[1] << 4), c[0], c[1], c[2],
                        MAX_STROKE_POINTS - total)
            current.add(np.array(curve, np.int64).reshape(-1, 2))
            total += len(curve)
        else:
            current.add(_to_pixels(rest))
            total += len(rest)
        if total > MAX_STROKE_POINTS:
            raise ProtocolError(f"stroke path of more than {MAX_STROKE_POINTS} points")
        if seg.flags & PathFlags.END:
            if seg.flags & PathFlags.CLOSE and current.parts:
                current.add(current.parts[0][:1].copy())
            finish()
    finish()
    return out


def _to_pixels(fixed: Ints) -> Ints:
    pixels: Ints = (fixed >> 4) + ((fixed & 15) > 8)
    return pixels


# --- plain lines: miZeroLine -------------------------------------------------------------

def _ceil_div(num: Ints, den: Ints | int) -> Ints:
    result: Ints = -((-num) // den)
    return result


def zero_line_pixels(starts: Ints, ends: Ints, region: Region, budget: _Budget
                     ) -> tuple[Ints, Ints]:
    """The pixels of thin lines from ``starts`` to ``ends`` inside ``region``: each from
    its first pixel up to, not including, its last.

    Along the major axis pixel i of a segment is i steps from its start; across, it is
    floor((2 i minor + major - bias) / (2 major)) steps over, which is where X's
    Bresenham error term puts it. X clips lines to the surface with equations that keep
    exactly these pixels, so here each segment is cut to the visible range directly."""
    x1, y1 = starts[:, 0], starts[:, 1]
    x2, y2 = ends[:, 0], ends[:, 1]
    dx, dy = x2 - x1, y2 - y1
    adx, ady = np.abs(dx), np.abs(dy)
    x_major = adx > ady
    octant = np.where(dx < 0, _X_DECREASING, 0) | np.where(dy < 0, _Y_DECREASING, 0) \
        | np.where(x_major, 0, _Y_MAJOR)
    bias = (_ZERO_LINE_BIAS >> octant) & 1
    major, minor = np.where(x_major, adx, ady), np.where(x_major, ady, adx)
    step_major = np.where(np.where(x_major, dx, dy) < 0, -1, 1)
    step_minor = np.where(np.where(x_major, dy, dx) < 0, -1, 1)
    start_major, start_minor = np.where(x_major, x1, y1), np.where(x_major, y1, x1)
    e = region.extents
    lo_major, hi_major = np.where(x_major, e.left, e.top), np.where(x_major, e.right, e.bottom)
    lo_minor, hi_minor = np.where(x_major, e.top, e.left), np.where(x_major, e.bottom, e.right)

    # Steps i whose major coordinate is visible, and minor steps k whose coordinate is.
    first = np.where(step_major > 0, lo_major - start_major, start_major - hi_major + 1)
    last = np.where(step_major > 0, hi_major - start_major, start_major - lo_major + 1)
    first, last = np.maximum(first, 0), np.minimum(last, major)
    k_lo = np.where(step_minor > 0, lo_minor - start_minor, start_minor - hi_minor + 1)
    k_hi = np.where(step_minor > 0, hi_minor - start_minor, start_minor - lo_minor + 1)
    slanted = minor > 0
    den = np.maximum(2 * minor, 1)

    def first_step_reaching(k: Ints) -> Ints:  # the least i whose minor step is >= k
        return _ceil_div(2 * major * k - major + bias, den)

    first = np.where(slanted, np.maximum(first, first_step_reaching(np.maximum(k_lo, 0))),
                     np.where((k_lo <= 0) & (k_hi > 0), first, last))
    last = np.where(slanted, np.minimum(last, first_step_reaching(k_hi)), last)

    counts = np.maximum(last - first, 0)
    n = budget.take(int(counts.sum()))
    seg = np.repeat(np.arange(len(counts)), counts)
    i = first[seg] + np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    k = (2 * i * minor[seg] + major[seg] - bias[seg]) // (2 * major[seg])
    along = start_major[seg] + step_major[seg] * i
    across = start_minor[seg] + step_minor[seg] * k
    xs = np.where(x_major[seg], along, across)
    ys = np.where(x_major[seg], across, along)
    inside = region.contains(xs, ys)
    return xs[inside], ys[inside]


# --- styled lines: miWideDash at width 1 --------------------------------------------------

def _hypot(ax: float, ay: float) -> float:
    """glibc's hypot (2.35 and later, built without FMA), the one lines.c gets: it is not
    correctly rounded, so math.hypot differs from it in the last bit now and then."""
    ax, ay = max(abs(ax), abs(ay)), min(abs(ax), abs(ay))
    h = math.sqrt(ax * ax + ay * ay)
    if h <= 2.0 * ay:
        delta = h - ay
        t1 = ax * (2.0 * delta - ax)
        t2 = (delta - 2.0 * (ax - ay)) * delta
    else:
        delta = h - ax
        t1 = 2.0 * delta * (ax - 2.0 * ay)
        t2 = (4.0 * delta - ay) * ay + delta * delta
    return h - (t1 + t2) / (2.0 * h)


def _iceil(x: float) -> int:
    return math.ceil(x)


@dataclass
class _Edge:
    """A polygon edge stepped one scanline at a time, X style: x advances by ``stepx``
    and by one more ``signdx`` whenever the error term ``e`` passes zero."""

    height: int
    x: int
    stepx: int
    signdx: int
    e: int
    dy: int
    dx: int

    def xs(self, rows: int) -> Ints:
        """x on the next ``rows`` scanlines; the edge then stands after them."""
        r = np.arange(rows, dtype=np.int64)
        carries = _ceil_div(self.e + r * self.dx, self.dy)
        xs: Ints = self.x + r * self.stepx + self.signdx * carries
        carried = -((-(self.e + rows * self.dx)) // self.dy)
        self.x += rows * self.stepx + self.signdx * carried
        self.e += rows * self.dx - carried * self.dy
        return xs


def _edge(y0: float, k: float, dx: int, dy: int, xi: int, yi: int, left: int
          ) -> tuple[int, _Edge]:
    """miPolyBuildEdge: the edge of slope dx/dy through the line x dy - y dx = k, from
    row ceil(y0); ``left`` edges start one pixel further right."""
    if dy < 0:
        dx, dy, k = -dx, -dy, -k
    y = _iceil(y0)
    xady = _iceil(k) + y * dx
    x = -((-xady) // dy) - 1 if xady <= 0 else (xady - 1) // dy
    e = xady - x * dy
    if dx >= 0:
        signdx, stepx, edx = 1, dx // dy, dx % dy
    else:
        signdx, stepx, edx = -1, -((-dx) // dy), (-dx) % dy
        e = dy - e + 1
    return y + yi, _Edge(0, x + left + xi, stepx, signdx, e - dy, dy, edx)


Vertex = tuple[float, float]
Slope = tuple[int, int, float]  # dx, dy and k = x0 dy - y0 dx


def _polygon(vertices: Sequence[Vertex], slopes: Sequence[Slope], xi: int, yi: int,
             spans: _Spans) -> None:
    """miPolyBuildPoly then miFillPolyHelper: the convex polygon's spans, with X's rule
    for which pixels an edge owns. Vertex i starts edge i (slope i)."""
    spans.budget.polygon()
    count = len(vertices)
    top = bottom = 0
    miny = maxy = vertices[0][1]
    for i in range(1, count):
        if vertices[i][1] < miny:
            top, miny = i, vertices[i][1]
        if vertices[i][1] >= maxy:
            bottom, maxy = i, vertices[i][1]
    before = (top - 1) % count
    clockwise, slopeoff = 1, 0
    if slopes[before][1] * slopes[top][0] > slopes[top][1] * slopes[before][0]:
        clockwise, slopeoff = -1, -1
    bottomy = _iceil(maxy) + yi

    def chain(direction: int, offset: int, left: int) -> tuple[list[_Edge], int | None]:
        edges: list[_Edge] = []
        first_y: int | None = None
        lasty = 0
        i, s = top, (top + offset) % count
        while i != bottom:
            sdx, sdy, k = slopes[s]
            if sdy != 0:
                y, edge = _edge(vertices[i][1], k, sdx, sdy, xi, yi, left)
                if edges:
                    edges[-1].height = y - lasty
                else:
                    first_y = y
                edges.append(edge)
                lasty = y
            i, s = (i + direction) % count, (s + direction) % count
        if edges:
            edges[-1].height = bottomy - lasty
        return edges, first_y

    right, topy = chain(clockwise, slopeoff, 0)
    left, _ = chain(-clockwise, -1 if slopeoff == 0 else 0, 1)
    _fill(topy or 0, left, right, spans)


def _fill(y: int, left: list[_Edge], right: list[_Edge], spans: _Spans) -> None:
    li = ri = 0
    lh = rh = 0
    le = re = _Edge(0, 0, 0, 0, 0, 1, 0)
    while (li < len(left) or lh) and (ri < len(right) or rh):
        if not lh and li < len(left):
            le, lh, li = replace(left[li]), left[li].height, li + 1
        if not rh and ri < len(right):
            re, rh, ri = replace(right[ri]), right[ri].height, ri + 1
        rows = min(lh, rh)
        lh, rh = lh - rows, rh - rows
        if rows > 0:
            spans.add(y, le.xs(rows), re.xs(rows))
            y += rows


@dataclass
class _Face:
    """One end of a line, for joining it to the next (X's LineFace)."""

    x: int
    y: int
    dx: int
    dy: int
    xa: float
    ya: float
    k: float


def _join(left: _Face, right: _Face, unique: bool, spans: _Spans) -> None:
    """miLineJoin at width 1 with mitres: the wedge between two dashes that meet at a
    vertex. Without span merging, X skips joins that one of the lines already covers."""
    if not unique and (left.dx > 0 or (left.dx == 0 and left.dy > 0)
                       or right.dx > 0 or (right.dx == 0 and right.dy > 0)):
        return
    denom = -left.dx * float(right.dy) + right.dx * float(left.dy)
    if denom == 0:
        return
    swap = denom <= 0
    if swap:
        right = _Face(right.x, right.y, -right.dx, -right.dy, -right.xa, -right.ya, right.k)
    else:
        left = _Face(left.x, left.y, -left.dx, -left.dy, -left.xa, -left.ya, left.k)
    vertices: list[Vertex] = [(right.xa, right.ya), (0.0, 0.0), (left.xa, left.ya)]
    slopes: list[Slope] = [(-right.dy, right.dx, 0.0), (left.dy, -left.dx, 0.0)]
    my = (left.dy * (right.xa * right.dy - right.ya * right.dx)
          - right.dy * (left.xa * left.dy - left.ya * left.dx)) / denom
    if left.dy != 0:
        mx = left.xa + (my - left.ya) * float(left.dx) / float(left.dy)
    else:
        mx = right.xa + (my - right.ya) * float(right.dx) / float(right.dy)
    sign = -1 if swap else 1
    if (mx * mx + my * my) * 4 > _SQ_SECANT:
        bx, by = right.xa - left.xa, right.ya - left.ya
        scale = max(abs(bx), abs(by))
        if scale == 0:
            return
        sdx, sdy = int((bx * 65536) / scale), int((by * 65536) / scale)
        slopes.append((sdx, sdy, ((left.xa + right.xa) * sdy - (left.ya + right.ya) * sdx)
                       / 2.0))
    else:
        slopes.append((sign * left.dx, sign * left.dy, sign * left.k))
        vertices.append((mx, my))
        slopes.append((sign * right.dx, sign * right.dy, sign * right.k))
    _polygon(vertices, slopes, left.x, left.y, spans)


@dataclass
class _Dash:
    """Where a polyline is in its dash pattern: in dash ``index``, ``offset`` into it."""

    pattern: tuple[int, ...]
    index: int = 0
    offset: int = 0

    def step(self, dist: int) -> None:
        """miStepDash: advance ``dist`` pixels along the pattern."""
        p, n = self.pattern, len(self.pattern)
        if dist < p[self.index] - self.offset:
            self.offset += dist
            return
        dist -= p[self.index] - self.offset
        self.index = (self.index + 1) % n
        total = sum(p)
        if 0 < total <= dist:
            dist %= total
        while dist >= p[self.index]:
            dist -= p[self.index]
            self.index = (self.index + 1) % n
        self.offset = dist


def _dash_segment(x1: int, y1: int, x2: int, y2: int, dash: _Dash, spans: _Spans,
                  clip: Box, budget: _Budget) -> tuple[_Face, _Face]:
    """miWideDashSegment at width 1: the dashes of one line as thin quadrilaterals.

    The quadrilateral of dash j runs from the line's start plus the lengths of the
    dashes before it to that plus its own; X accumulates those positions in doubles, one
    dash at a time, and np.cumsum adds in that same order."""
    dx, dy = x2 - x1, y2 - y1
    p, n = dash.pattern, len(dash.pattern)
    half = 0.5
    if dx == 0:
        length, rdx, rdy = float(abs(dy)), 0.0, half if dy >= 0 else -half
    elif dy == 0:
        length, rdx, rdy = float(abs(dx)), half if dx >= 0 else -half, 0.0
    else:
        length = _hypot(dx, dy)
        r = half / length
        rdx, rdy = r * dx, r * dy
    k = half * length

    # Dash j covers [S_j, S_j + r_j) along the line: r_0 is what is left of the current
    # dash, then whole dashes; X's loop draws dash j while L - S_j > r_j, and the rest of
    # the line is a last, partial dash. L - S_j is exact in doubles, so this counts
    # X's iterations without running them.
    first = p[dash.index] - dash.offset
    rotated = np.array(p[dash.index + 1:] + p[:dash.index + 1], np.int64)
    cycle = np.cumsum(rotated)
    room = length - first
    if room <= 0:
        steps = 0
    else:
        left = room - cycle  # whole cycles q that fit before each partial cycle t
        q = np.maximum(np.ceil(left / cycle[-1]), 0).astype(np.int64)
        q -= ((q > 0) & ((q - 1) * cycle[-1] >= left)).astype(np.int64)
        q += (q * cycle[-1] < left).astype(np.int64)
        steps = 1 + int(q.sum())
    budget.dashes(steps)
    j = np.arange(steps + 1, dtype=np.int64)
    lengths = np.array(p, np.int64)[(dash.index + j) % n]
    lengths[0] = first
    dash_dx = (lengths[:steps] * dx) / length
    dash_dy = (lengths[:steps] * dy) / length
    right_x = np.cumsum(np.concatenate(([rdy], dash_dx)))
    right_y = np.cumsum(np.concatenate(([-rdx], dash_dy)))
    bottom_x = np.cumsum(np.concatenate(([-rdy], dash_dx)))
    bottom_y = np.cumsum(np.concatenate(([rdx], dash_dy)))
    right_k = right_x[1:] * dx + right_y[1:] * dy
    left_k = np.concatenate(([0.0], -right_k))
    on = ((dash.index + j[:steps]) % n) % 2 == 0
    # Only quadrilaterals that reach the clip are worth filling.
    xs = np.stack((right_x[:-1], right_x[1:], bottom_x[1:], bottom_x[:-1])) + x1
    ys = np.stack((right_y[:-1], right_y[1:], bottom_y[1:], bottom_y[:-1])) + y1
    near = on & (xs.max(0) >= clip.left - 2) & (xs.min(0) <= clip.right + 2) \
        & (ys.max(0) >= clip.top - 2) & (ys.min(0) <= clip.bottom + 2)
    for i in np.flatnonzero(near).tolist():
        _polygon([(float(right_x[i]), float(right_y[i])),
                  (float(right_x[i + 1]), float(right_y[i + 1])),
                  (float(bottom_x[i + 1]), float(bottom_y[i + 1])),
                  (float(bottom_x[i]), float(bottom_y[i]))],
                 [(dx, dy, k), (-dy, dx, float(right_k[i])), (-dx, -dy, k),
                  (dy, -dx, float(left_k[i]))], x1, y1, spans)
    index = (dash.index + steps) % n
    if index % 2 == 0:
        last = steps
        _polygon([(float(right_x[last]) - dx, float(right_y[last]) - dy), (rdy, -rdx),
                  (-rdy, rdx), (float(bottom_x[last]) - dx, float(bottom_y[last]) - dy)],
                 [(dx, dy, k), (-dy, dx, 0.0), (-dx, -dy, k),
                  (dy, -dx, float(left_k[last]) + (dx * dx + dy * dy))], x2, y2, spans)
    remain = int(float(lengths[steps]) - (length - float(lengths[:steps].sum())))
    if remain == 0:
        index = (index + 1) % n
        remain = p[index]
    dash.index, dash.offset = index, p[index] - remain
    return (_Face(x1, y1, dx, dy, rdy, -rdx, k), _Face(x2, y2, -dx, -dy, -rdy, rdx, k))


def dashed_line_spans(points: Ints, dash: _Dash, unique: bool, clip: Box, budget: _Budget
                      ) -> _Spans:
    """miWideDash at width 1, cap 'not last', mitre joins, on-off dashes: the spans of a
    polyline's dashes and of the joins where a dash turns a corner."""
    spans = _Spans(budget)
    closed = bool((points[0] == points[-1]).all())
    first = True
    something = prev_fg = first_fg = end_fg = False
    first_face = prev_right = right_face = None
    coords = points.tolist()
    for (x1, y1), (x2, y2) in itertools.pairwise(coords):
        if (x1, y1) == (x2, y2):
            continue
        something = True
        start_fg = dash.index % 2 == 0
        left_face, right_face = _dash_segment(x1, y1, x2, y2, dash, spans, clip, budget)
        end_fg = (dash.index % 2 == 1) != (dash.offset != 0)
        if start_fg:
            if first or not prev_fg:
                if first and closed:
                    first_face, first_fg = left_face, True
            elif prev_right is not None:
                _join(left_face, prev_right, unique, spans)
        prev_right, prev_fg, first = right_face, end_fg, False
    if something and end_fg and closed and first_fg and first_face and right_face:
        _join(first_face, right_face, unique, spans)
    return spans


class _Budget:
    """The work one stroke may cost, whatever its path claims."""

    def __init__(self) -> None:
        self.pixels = 0
        self.dash_steps = 0
        self.polygons = 0

    def take(self, n: int) -> int:
        self.pixels += n
        if self.pixels > MAX_STROKE_PIXELS:
            raise ProtocolError(f"stroke touching more than {MAX_STROKE_PIXELS} pixels")
        return n

    def dashes(self, n: int) -> None:
        self.dash_steps += n
        if self.dash_steps > MAX_DASHES:
            raise ProtocolError(f"stroke of more than {MAX_DASHES} dashes")

    def polygon(self) -> None:
        self.polygons += 1
        if self.polygons > MAX_DASH_POLYGONS:
            raise ProtocolError(f"stroke of more than {MAX_DASH_POLYGONS} visible dashes")


class _Spans:
    """Horizontal runs [x_left, x_right] on rows, gathered as arrays."""

    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.rows: list[Ints] = []
        self.lefts: list[Ints] = []
        self.rights: list[Ints] = []

    def add(self, y: int, lefts: Ints, rights: Ints) -> None:
        keep = rights >= lefts
        self.rows.append(np.arange(y, y + len(lefts), dtype=np.int64)[keep])
        self.lefts.append(lefts[keep])
        self.rights.append(rights[keep])
        self.budget.take(int((rights[keep] - lefts[keep] + 1).sum()))

    def pixels(self, region: Region) -> tuple[Ints, Ints]:
        """Every pixel of every span (repeats kept) that lies in ``region``."""
        if not self.rows:
            empty = np.zeros(0, np.int64)
            return empty, empty
        e = region.extents
        rows = np.concatenate(self.rows)
        lefts = np.maximum(np.concatenate(self.lefts), e.left)
        rights = np.minimum(np.concatenate(self.rights), e.right - 1)
        keep = (rows >= e.top) & (rows < e.bottom) & (rights >= lefts)
        rows, lefts, rights = rows[keep], lefts[keep], rights[keep]
        widths = rights - lefts + 1
        starts = np.repeat(lefts - (np.cumsum(widths) - widths), widths)
        xs = starts + np.arange(int(widths.sum()))
        ys = np.repeat(rows, widths)
        inside = region.contains(xs, ys)
        return xs[inside], ys[inside]


# --- the whole stroke -----------------------------------------------------------------

def dash_pattern(attr: m.LineAttr) -> _Dash | None:
    """The dash state spice-gtk starts each polyline in, or None for plain lines.

    Lengths are whole pixels, rounded as points are and cut to a byte (X's dash list
    holds unsigned chars). START_WITH_GAP rotates the style left by one and starts that
    first element's length into it."""
    if not attr.flags & LineFlags.STYLED:
        return None
    if not attr.style:
        raise ProtocolError("styled line without dash lengths")
    lengths = tuple(fix_to_int(v) & 0xFF for v in attr.style)
    if not any(lengths):
        raise ProtocolError("styled line whose dashes all have zero length")
    offset = 0
    if attr.flags & LineFlags.START_WITH_GAP:
        lengths = lengths[1:] + lengths[:1]
        offset = lengths[0]
    dash = _Dash(lengths)
    dash.step(offset)
    return dash


def stroke(pixels: Pixels, region: Region, lines: list[Ints], dash: _Dash | None,
           paint: Paint, code: int) -> Box | None:
    """Draw ``lines`` on ``pixels`` with ROP ``code`` of ``paint``; the touched box."""
    if region.empty or not lines:
        return None
    budget = _Budget()
    xs_parts: list[Ints] = []
    ys_parts: list[Ints] = []
    # X merges the spans of a dashed polyline of 3 or more points before filling them
    # when the ROP is not idempotent, so that each pixel gets it once.
    careful = code in (rop.AND_REVERSE, rop.XOR, rop.NOR, rop.EQUIV, rop.INVERT,
                       rop.OR_REVERSE, rop.NAND)
    if dash is None:
        segments = [p for p in lines if len(p) > 1]
        if segments:
            starts = np.concatenate([p[:-1] for p in segments])
            ends = np.concatenate([p[1:] for p in segments])
            xs, ys = zero_line_pixels(starts, ends, region, budget)
            xs_parts.append(xs)
            ys_parts.append(ys)
    else:
        for points in lines:
            spans = dashed_line_spans(points, replace(dash), careful and len(points) >= 3,
                                      region.extents, budget)
            xs, ys = spans.pixels(region)
            if careful and len(points) >= 3:
                flat = np.unique(ys * pixels.shape[1] + xs)
                xs, ys = flat % pixels.shape[1], flat // pixels.shape[1]
            xs_parts.append(xs)
            ys_parts.append(ys)
    if not xs_parts:
        return None
    xs, ys = np.concatenate(xs_parts), np.concatenate(ys_parts)
    if not len(xs):
        return None
    flat, times = np.unique(ys * pixels.shape[1] + xs, return_counts=True)
    px, py = flat % pixels.shape[1], flat // pixels.shape[1]
    src = paint.at(px, py) if isinstance(paint, Tile) else paint
    view = pixels.reshape(-1)
    view[flat] = rop.apply_times(code, src, view[flat], times)
    return Box(int(px.min()), int(py.min()), int(px.max()) + 1, int(py.max()) + 1)

