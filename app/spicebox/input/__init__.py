"""Local input devices (evdev, SDL) turned into what the SPICE inputs channel sends."""
