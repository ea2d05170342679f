"""Sound both ways: the guest's playback to a local output, a local input to its record."""
