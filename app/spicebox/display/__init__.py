"""Presenters: put the primary surface on a screen (or nowhere, for tests)."""
