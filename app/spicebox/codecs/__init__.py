"""Image decoders: each turns one SPICE image payload into a (height, width) uint32 XRGB array."""
