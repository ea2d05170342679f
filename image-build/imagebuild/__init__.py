"""Builds Spicebox's bootable disk images: one per board, described by board/<name>/."""
