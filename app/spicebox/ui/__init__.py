"""The on-device setup UI: pages of widgets drawn with pygame onto the session's presenters."""
