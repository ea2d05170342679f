"""Choosing a presenter from ``--backend``."""

from __future__ import annotations

import glob
import os

from .base import Presenter

BACKENDS = ("auto", "kmsdrm", "fbdev", "x11", "headless")


def resolve_backend(name: str) -> str:
    """Map 'auto' to what this machine has: a desktop session, KMS, a framebuffer, or none."""
    if name != "auto":
        return name
    if os.environ.get("DISPLAY"):
        return "x11"
    if glob.glob("/dev/dri/card*"):
        return "kmsdrm"
    if os.path.exists("/dev/fb0"):
        return "fbdev"
    return "headless"


def open_presenter(backend: str, title: str) -> Presenter:
    if backend == "headless":
        from .headless import HeadlessPresenter  # noqa: PLC0415
        return HeadlessPresenter()
    if backend == "fbdev":
        from .fbdev import FbdevPresenter  # noqa: PLC0415
        return FbdevPresenter()
    from .sdl import SdlPresenter  # noqa: PLC0415
    return SdlPresenter(backend, title)
