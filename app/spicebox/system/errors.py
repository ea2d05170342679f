"""The error of a firmware update, apart from the update code itself (which brings in
tarfile and the boot loaders' files) so that every command can report it."""


class UpdateError(Exception):
    """The update cannot be installed: the message says why; the running slot is untouched."""
