"""Binary codecs for SPICE structures, derived from annotated dataclasses.

A structure is declared once, as a ``wire_struct`` dataclass whose fields name their wire
type in ``Annotated`` metadata (see ``messages.py``). ``codec_of`` compiles a reader and a
writer from that declaration, so decoding and encoding can never drift apart. Pointers
are u32 offsets from the start of the message body, as in spice.proto's protocol-2
encoding; a writer lays pointed-to data after the fixed part, the way spice-server's
marshaller does.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from .errors import ProtocolError

T = TypeVar("T")
Buffer = bytes | bytearray | memoryview


@typing.dataclass_transform(frozen_default=True)
def wire_struct(cls: type[T]) -> type[T]:
    """Declares a wire structure: a dataclass that is frozen to the type checker but not
    at run time. A frozen dataclass sets each field through ``object.__setattr__``, which
    makes building one four times as slow, and decoding a drawing builds a dozen of them.
    ``unsafe_hash`` keeps them hashable, as frozen ones are."""
    return dataclasses.dataclass(slots=True, unsafe_hash=True)(cls)


class Reader:
    """A cursor over one message body; every read is bounds-checked."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: Buffer, pos: int = 0) -> None:
        self.buf = memoryview(buf)
        self.pos = pos
        self.end = len(self.buf)

    def take(self, n: int) -> memoryview:
        start = self.pos
        if n < 0 or start + n > self.end:
            raise ProtocolError(f"message truncated: need {n} bytes at offset {start}, "
                                f"have {self.end - start}")
        self.pos = start + n
        return self.buf[start:start + n]

    def unpack(self, s: struct.Struct) -> tuple[Any, ...]:
        start = self.pos
        if start + s.size > self.end:
            raise ProtocolError(f"message truncated: need {s.size} bytes at offset {start}, "
                                f"have {self.end - start}")
        self.pos = start + s.size
        return s.unpack_from(self.buf, start)

    def at(self, offset: int) -> Reader:
        """A reader for a pointer target inside the same body."""
        if not 0 < offset < self.end:
            raise ProtocolError(f"pointer {offset} outside the {self.end}-byte message")
        return Reader(self.buf, offset)


class Writer:
    """Builds one message body; pointer targets are appended after the fixed part."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self._pending: list[tuple[int, Codec[Any], Any]] = []

    def pack(self, s: struct.Struct, *values: Any) -> None:
        self.buf += s.pack(*values)

    def pointer(self, codec: Codec[Any], value: Any) -> None:
        self._pending.append((len(self.buf), codec, value))
        self.buf += b"\0\0\0\0"

    def finish(self) -> bytes:
        # Pointer targets may contain pointers themselves: drain until none are left.
        while self._pending:
            slot, codec, value = self._pending.pop(0)
            _U32.pack_into(self.buf, slot, len(self.buf))
            codec.write(self, value)
        return bytes(self.buf)


class Codec(Generic[T]):
    """Reads and writes one wire type."""

    # The fewest bytes a value takes on the wire: lets arrays refuse impossible counts
    # before allocating anything.
    min_size = 1

    def read(self, r: Reader) -> T:
        raise NotImplementedError

    def write(self, w: Writer, value: T) -> None:
        raise NotImplementedError


class Prim(Codec[int]):
    """A little-endian integer."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.struct = struct.Struct("<" + fmt)
        self.min_size = self.struct.size

    def read(self, r: Reader) -> int:
        value: int = r.unpack(self.struct)[0]
        return value

    def write(self, w: Writer, value: int) -> None:
        w.pack(self.struct, value)


_U32 = struct.Struct("<I")
_U32_PRIM = Prim("I")

U8 = typing.Annotated[int, Prim("B")]
U16 = typing.Annotated[int, Prim("H")]
U32 = typing.Annotated[int, Prim("I")]
U64 = typing.Annotated[int, Prim("Q")]
I16 = typing.Annotated[int, Prim("h")]
I32 = typing.Annotated[int, Prim("i")]
I64 = typing.Annotated[int, Prim("q")]


class Rest(Codec[memoryview]):
    """Every byte left in the message (spice.proto's ``@end`` / ``@as_ptr`` data)."""

    min_size = 0

    def read(self, r: Reader) -> memoryview:
        return r.take(r.end - r.pos)

    def write(self, w: Writer, value: Buffer) -> None:
        w.buf += value


class Blob(Codec[memoryview]):
    """Bytes preceded by their length."""

    def __init__(self, length: Prim) -> None:
        self.length = length
        self.min_size = length.min_size

    def read(self, r: Reader) -> memoryview:
        return r.take(self.length.read(r))

    def write(self, w: Writer, value: Buffer) -> None:
        self.length.write(w, len(value))
        w.buf += value


class Array(Codec[tuple[T, ...]]):
    """Elements preceded by their count, or counted by an earlier field of the struct.

    ``limit`` caps the count where the protocol's meaning does (a handful of channels, at
    most 256 palette entries): each element becomes a Python object, so the message size
    alone does not bound the memory a hostile count costs.
    """

    def __init__(self, element: Any, count: Prim | str, limit: int | None = None) -> None:
        self.element_type = element
        self.count = count
        self.limit = limit
        self.min_size = count.min_size if isinstance(count, Prim) else 0

    @property
    def element(self) -> Codec[T]:
        return codec_of(self.element_type)

    def read(self, r: Reader) -> tuple[T, ...]:
        assert isinstance(self.count, Prim)
        return self.read_n(r, self.count.read(r))

    def read_n(self, r: Reader, n: int) -> tuple[T, ...]:
        element = self.element
        if self.limit is not None and n > self.limit:
            raise ProtocolError(f"array of {n} elements, more than the {self.limit} allowed")
        if n * max(element.min_size, 1) > r.end - r.pos:
            raise ProtocolError(f"array of {n} elements cannot fit in {r.end - r.pos} bytes")
        return tuple(element.read(r) for _ in range(n))

    def write(self, w: Writer, value: tuple[T, ...]) -> None:
        if isinstance(self.count, Prim):
            self.count.write(w, len(value))
        element = self.element
        for item in value:
            element.write(w, item)


class Ptr(Codec[T | None]):
    """A u32 offset to a structure elsewhere in the body; 0 means absent."""

    def __init__(self, target: Any) -> None:
        self.target_type = target
        self.min_size = _U32.size

    def read(self, r: Reader) -> T | None:
        return self.follow(r, r.unpack(_U32)[0])

    def follow(self, r: Reader, offset: int) -> T | None:
        """The structure at ``offset`` of the body ``r`` reads."""
        if offset == 0:
            return None
        target: Codec[T] = codec_of(self.target_type)
        return target.read(r.at(offset))

    def write(self, w: Writer, value: T | None) -> None:
        if value is None:
            w.pack(_U32, 0)
        else:
            w.pointer(codec_of(self.target_type), value)


class StructCodec(Codec[T]):
    """Codec compiled from a dataclass; runs of integer fields share one struct.unpack.

    Reading is the hot path (every drawing is decoded): ``read`` is generated Python
    source, one function per structure with nested structures written out inline, so
    a DrawCopy is two struct.unpack calls and its constructors instead of a walk through
    a dozen codec objects. Writing walks the steps below.
    """

    def __init__(self, cls: type[T]) -> None:
        self.cls = cls
        hints = _hints(typing.cast(type, cls))
        steps: list[tuple[str, Any]] = []
        run: list[Prim] = []
        self.field_names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        for name in self.field_names:
            codec = _field_codec(cls, name, hints[name])
            if isinstance(codec, Prim):
                run.append(codec)
                continue
            if run:
                steps.append(("prims", (struct.Struct("<" + "".join(p.fmt for p in run)),
                                        len(run))))
                run = []
            if isinstance(codec, Array) and isinstance(codec.count, str):
                steps.append(("counted", (codec, self.field_names.index(codec.count))))
            else:
                steps.append(("codec", codec))
        if run:
            steps.append(("prims", (struct.Struct("<" + "".join(p.fmt for p in run)), len(run))))
        self.steps = steps
        self.min_size = sum(arg[0].size if kind == "prims" else
                            0 if kind == "counted" else arg.min_size for kind, arg in steps)

    def read(self, r: Reader) -> T:
        # The reader is written at the first read, and takes this method's place. Most
        # structures are never read on their own: the client's messages are only
        # written, and a nested structure is read inline by the reader that holds it.
        self.read = _ReaderSource(self.cls).compile()  # type: ignore[method-assign,assignment]
        return self.read(r)

    def write(self, w: Writer, value: T) -> None:
        values = [getattr(value, name) for name in self.field_names]
        i = 0
        for kind, arg in self.steps:
            if kind == "prims":
                s, n = arg
                w.pack(s, *values[i:i + n])
                i += n
            else:
                codec = arg[0] if kind == "counted" else arg
                codec.write(w, values[i])
                i += 1


def _truncated(need: int, pos: int, end: int) -> ProtocolError:
    return ProtocolError(f"message truncated: need {need} bytes at offset {pos}, "
                         f"have {end - pos}")


class _ReaderSource:
    """Writes the source of one structure's reader.

    Integer fields, including those of nested structures, pointer offsets and counts,
    collect in a run that one bounds check and one ``unpack_from`` read. Whatever needs
    those values (a nested structure's constructor, a pointer's target) is deferred until
    the run is read; anything of variable size (a blob, an array, a ``Custom`` type) ends
    the run.
    """

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.lines: list[str] = []
        self.globals: dict[str, Any] = {"_truncated": _truncated}
        self.run_format = ""
        self.run_vars: list[str] = []
        self.deferred: list[str] = []
        self.count = 0

    def compile(self) -> Callable[[Reader], Any]:
        result = self.struct(self.cls)
        self.flush()
        body = "\n".join("    " + line for line in self.lines)
        source = (f"def read(r):\n    buf, pos, end = r.buf, r.pos, r.end\n{body}\n"
                  f"    r.pos = pos\n    return {result}\n")
        namespace = dict(self.globals)
        exec(compile(source, f"<reader of {self.cls.__name__}>", "exec"), namespace)
        reader: Callable[[Reader], Any] = namespace["read"]
        return reader

    def var(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def constant(self, value: Any) -> str:
        name = f"c{len(self.globals)}"
        self.globals[name] = value
        return name

    def struct(self, cls: type) -> str:
        hints = _hints(cls)
        named: dict[str, str] = {}
        for f in dataclasses.fields(cls):
            named[f.name] = self.field(_field_codec(cls, f.name, hints[f.name]), named)
        value = self.var()
        self.deferred.append(f"{value} = {self.constant(cls)}({', '.join(named.values())})")
        return value

    def prim(self, codec: Prim) -> str:
        value = self.var()
        self.run_format += codec.fmt
        self.run_vars.append(value)
        return value

    def flush(self) -> None:
        if self.run_vars:
            s = struct.Struct("<" + self.run_format)
            self.lines += [f"if pos + {s.size} > end: raise _truncated({s.size}, pos, end)",
                           f"{', '.join(self.run_vars)}, = {self.constant(s)}"
                           f".unpack_from(buf, pos)",
                           f"pos += {s.size}"]
            self.run_format, self.run_vars = "", []
        self.lines += self.deferred
        self.deferred = []

    def field(self, codec: Codec[Any], named: dict[str, str]) -> str:
        if isinstance(codec, Prim):
            return self.prim(codec)
        if isinstance(codec, StructCodec):
            return self.struct(codec.cls)
        if isinstance(codec, Ptr):
            offset, value = self.prim(_U32_PRIM), self.var()
            self.deferred.append(f"{value} = None if {offset} == 0 else "
                                 f"{self.constant(codec)}.follow(r, {offset})")
            return value
        if isinstance(codec, Blob):
            length = self.prim(codec.length)
            self.flush()
            value = self.var()
            self.lines += [f"if {length} > end - pos: raise _truncated({length}, pos, end)",
                           f"{value} = buf[pos:pos + {length}]",
                           f"pos += {length}"]
            return value
        if isinstance(codec, Rest):
            self.flush()
            value = self.var()
            self.lines += [f"{value} = buf[pos:end]", "pos = end"]
            return value
        if isinstance(codec, Array):
            count = self.prim(codec.count) if isinstance(codec.count, Prim) \
                else named[codec.count]
            self.flush()
            value = self.var()
            self.lines += ["r.pos = pos",
                           f"{value} = {self.constant(codec)}.read_n(r, {count})",
                           "pos = r.pos"]
            return value
        self.flush()  # a Custom type: it reads itself
        value = self.var()
        self.lines += ["r.pos = pos", f"{value} = {self.constant(codec)}.read(r)",
                       "pos = r.pos"]
        return value


def _field_codec(cls: type, name: str, hint: Any) -> Codec[Any]:
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, Codec):
            return meta
    if dataclasses.is_dataclass(hint):
        return codec_of(hint)
    raise TypeError(f"{cls.__name__}.{name}: no wire type in its annotation")


_codecs: dict[Any, Codec[Any]] = {}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """A structure's field annotations, evaluated once: evaluating them is most of the
    cost of building a codec, and a nested structure's reader is written out in each
    reader that holds it."""
    own = vars(cls).get("__annotations__", {})
    hints = {}
    for f in dataclasses.fields(cls):
        if f.name not in own:  # its text would be evaluated in the wrong module
            raise TypeError(f"{cls.__name__}.{f.name}: a wire structure declares its "
                            f"fields itself")
        hints[f.name] = _annotation(cls.__module__, f.type) if isinstance(f.type, str) \
            else f.type
    return hints


@functools.cache
def _annotation(module: str, text: str) -> Any:
    """An annotation, as its module's text: a few dozen distinct texts (``U32``, ``Rect``)
    serve all the structures, and each is compiled once."""
    return eval(text, vars(sys.modules[module]))


def codec_of(cls: Any) -> Codec[Any]:
    """The codec for a wire dataclass, a ``Custom`` subclass or an ``Annotated`` type."""
    codec = _codecs.get(cls)
    if codec is None:
        for meta in getattr(cls, "__metadata__", ()):
            if isinstance(meta, Codec):
                return meta
        if isinstance(cls, type) and issubclass(cls, Custom):
            codec = _CustomCodec(cls)
        elif dataclasses.is_dataclass(cls):
            codec = StructCodec(cls)  # type: ignore[arg-type]
        else:
            raise TypeError(f"{cls!r} is not a wire type")
        _codecs[cls] = codec
    return codec


class Custom:
    """Base for wire types whose layout depends on their own content (spice.proto ``switch``).

    Subclasses implement ``read`` and ``write``; the table stays declarative everywhere else.
    """

    @classmethod
    def read(cls, r: Reader) -> Any:
        raise NotImplementedError

    @classmethod
    def write(cls, w: Writer, value: Any) -> None:
        raise NotImplementedError


class _CustomCodec(Codec[Any]):
    def __init__(self, cls: type[Custom]) -> None:
        self.read = cls.read  # type: ignore[method-assign]
        self.write = cls.write  # type: ignore[method-assign]


def decode(cls: type[T], body: Buffer) -> T:
    """Decode a whole message body as ``cls``. Trailing bytes are allowed: newer servers
    append fields, and spice-gtk accepts them too."""
    codec: Codec[T] = codec_of(cls)
    return codec.read(Reader(body))


def encode(value: object) -> bytes:
    w = Writer()
    codec_of(type(value)).write(w, value)
    return w.finish()


# ---------------------------------------------------------------------------------------
# The registry: which dataclass is which message number, per channel and direction.

SERVER = "server"
CLIENT = "client"
BASE_CHANNEL = 0  # messages below 100 are shared by every channel


@dataclasses.dataclass(frozen=True)
class MessageSpec:
    channel: int
    direction: str
    number: int
    cls: type


_by_number: dict[tuple[str, int, int], MessageSpec] = {}
_by_class: dict[type, MessageSpec] = {}


class Message:
    """Marker base for registered messages (gives mypy one type for 'any message')."""

    spec: ClassVar[MessageSpec]


M = TypeVar("M", bound=Message)


def message(channel: int, direction: str, number: int) -> Callable[[type[M]], type[M]]:
    def register(cls: type[M]) -> type[M]:
        spec = MessageSpec(channel, direction, number, cls)
        key = (direction, channel, number)
        if key in _by_number:
            raise TypeError(f"{cls.__name__} reuses message number {key}")
        _by_number[key] = spec
        _by_class[cls] = spec
        cls.spec = spec
        return cls
    return register


def lookup(direction: str, channel: int, number: int) -> MessageSpec | None:
    if number < 100:
        return _by_number.get((direction, BASE_CHANNEL, number))
    return _by_number.get((direction, channel, number))


def all_messages() -> Sequence[MessageSpec]:
    return list(_by_number.values())
