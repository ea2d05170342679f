"""Spicebox: a SPICE thin client for the Linux console."""

__version__ = "0.1.0"
