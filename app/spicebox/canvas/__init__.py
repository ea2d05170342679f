"""Surfaces and the draw operations that change them."""
