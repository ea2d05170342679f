"""USB redirection, host side: local devices (pyusb) redirected over SPICE's usbredir
channels, the filters that decide which, and hotplug."""
