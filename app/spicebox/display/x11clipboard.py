"""The development window's clipboard: X's CLIPBOARD selection, text through SDL and PNG
images through xclip.

SDL 2 holds text only (typed clipboard data came with SDL 3). Owning a selection means
answering every other client's requests for as long as it is held, in pieces (INCR) for
anything larger than one X request: xclip does that as a process of its own, which also
keeps a copied image pasteable after the session ends, as X clipboards do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..logonce import LogOnce
from ..spice.agent import MAX_MESSAGE, ClipboardType

log = logging.getLogger(__name__)

XCLIP = ("xclip", "-selection", "clipboard")
PNG = "image/png"
# An owner that does not answer is given up on: the copy is lost, the session is not.
TARGETS_SECONDS = 2.0
DATA_SECONDS = 10.0


class X11Clipboard:
    def __init__(self, scrap: Any) -> None:  # pygame.scrap (pygame ships no types)
        self._scrap = scrap
        # What X's clipboard holds as far as the guest knows: put there from the guest, or
        # offered to it. SDL reports one change twice (losing the selection, then XFixes'
        # notice): offering the same again would make spice-vdagent grab twice, and it
        # can then miss the guest's next copy.
        self._known: tuple[ClipboardType, bytes] | None = None
        self._warn = LogOnce(log, logging.WARNING)

    async def put(self, kind: ClipboardType, data: bytes) -> None:
        """Make what the guest copied X's clipboard (other kinds are left out)."""
        if kind == ClipboardType.UTF8_TEXT:
            self._known = (kind, data)
            self._scrap.put_text(data.decode(errors="replace"))
        elif kind == ClipboardType.IMAGE_PNG:
            self._known = (kind, data)
            # xclip reads the image, leaves a child behind to serve it, and exits.
            process = await self._start("-t", PNG, "-i", reading=False)
            if process is None:
                return
            try:
                await process.communicate(data)
            finally:
                if process.returncode is None:  # cancelled: the session is ending
                    process.kill()
            if process.returncode:
                self._warn(("put", process.returncode),
                           "xclip could not take the clipboard (exit %d): the image the "
                           "guest copied cannot be pasted here", process.returncode)

    async def get(self) -> tuple[ClipboardType, bytes] | None:
        """What another window copied, as text or a PNG image; None if nothing we can
        offer the guest, or nothing new to it."""
        text = self._scrap.get_text()
        if text:
            found = (ClipboardType.UTF8_TEXT, text.encode())
        else:
            targets = await self._read("TARGETS", TARGETS_SECONDS)
            if targets is None or PNG not in targets.decode(errors="replace").split():
                return None
            image = await self._read(PNG, DATA_SECONDS)
            if not image:
                return None
            found = (ClipboardType.IMAGE_PNG, image)
        if found == self._known:
            return None
        self._known = found
        return found

    async def _read(self, target: str, seconds: float) -> bytes | None:
        process = await self._start("-t", target, "-o", reading=True)
        if process is None:
            return None
        assert process.stdout is not None
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(seconds):
                while size <= MAX_MESSAGE and (chunk := await process.stdout.read(1 << 20)):
                    chunks.append(chunk)
                    size += len(chunk)
                if size <= MAX_MESSAGE:
                    await process.wait()
        except TimeoutError:
            self._warn(("slow", target), "the clipboard's owner did not give its %s "
                       "within %g s: not offered to the guest", target, seconds)
            return None
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        if size > MAX_MESSAGE:
            self._warn("large", "a clipboard image over %d MiB is not offered to the guest",
                       MAX_MESSAGE >> 20)
            return None
        if process.returncode:
            return None  # nothing copied, or not in this form: not worth a word
        return b"".join(chunks)

    async def _start(self, *args: str, reading: bool) -> asyncio.subprocess.Process | None:
        pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        try:
            # When putting, stdout stays unpiped: xclip's serving child would hold it open.
            return await asyncio.create_subprocess_exec(
                *XCLIP, *args, stdin=null if reading else pipe,
                stdout=pipe if reading else null, stderr=null)
        except FileNotFoundError:
            self._warn("missing", "copying images needs xclip (apt install xclip); text is "
                       "copied without it")
            return None
