"""Provisioning: administrators sign configuration into a static site; devices fetch it,
check it and apply it (site.py: the format, signing and checks; agent.py: the device)."""
