"""The small interface every presenter implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..canvas.surface import Box, Surface


class Presenter(Protocol):
    name: str

    def present(self, surface: Surface, damage: Sequence[Box]) -> None:
        """Show the damaged boxes of ``surface`` (disjoint, non-empty); called at most once
        per refresh."""

    def quit_requested(self) -> bool:
        """Whether the user closed the window (dev backends); polls input as a side effect."""

    def close(self) -> None: ...
