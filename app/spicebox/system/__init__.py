"""The device's own services over D-Bus: NetworkManager, hostnamed, timedated, logind."""
