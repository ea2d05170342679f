"""The README's screenshots of the setup pages (docs/setup/*.png, made by
``python -m tests.rig.ui_screens docs/setup``) still show what the pages draw: compared
by layout, block by block, not pixel by pixel (fonts render slightly differently from one
FreeType to another, and the sample certificate's fingerprint is new every run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.rig.client import load_png
from tests.rig.ui_screens import shoot

DOCS = Path(__file__).parents[2] / "docs" / "setup"
BLOCK = 16
# Pages whose text depends on the machine (its addresses) or on the run (a temporary
# directory, a fresh certificate) differ in a few blocks of text; layout changes move or
# recolour many more.
MAX_DIFFERING_BLOCKS = 0.06


def _blocks(path: Path) -> np.ndarray:
    gray = load_png(path).astype(np.float32).mean(axis=2)
    h, w = gray.shape
    blocks: np.ndarray = gray[:h - h % BLOCK, :w - w % BLOCK].reshape(
        h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))
    return blocks


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {p.stem: p for p in shoot(tmp_path_factory.mktemp("shots"), (800, 480))}


def test_every_page_has_a_screenshot_in_the_docs(fresh: dict[str, Path]) -> None:
    assert sorted(fresh) == sorted(p.stem for p in DOCS.glob("*.png"))


@pytest.mark.parametrize("name", sorted(p.stem for p in DOCS.glob("*.png")))
def test_the_docs_screenshot_matches_the_page(fresh: dict[str, Path], name: str) -> None:
    old, new = _blocks(DOCS / f"{name}.png"), _blocks(fresh[name])
    assert old.shape == new.shape
    differing = float((np.abs(old - new) > 24).mean())
    assert differing <= MAX_DIFFERING_BLOCKS, (
        f"{name}: {differing:.1%} of the page looks different from docs/setup/{name}.png: "
        f"if the change is intended, run python -m tests.rig.ui_screens docs/setup")
