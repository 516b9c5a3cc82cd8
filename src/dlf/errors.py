"""User-facing errors.

Anything a user can get wrong (an unknown name, a bad value, a missing file, an unwritable path) raises a
`DlfError`. The CLI prints its message as one line and exits non-zero, without a traceback. The message names
the problem and the fix.
"""


class DlfError(Exception):
    """A problem the user can fix; printed as one line by the CLI."""

    exit_code = 2


class ConfigError(DlfError):
    """A bad option value."""


class DataError(DlfError):
    """A missing or corrupt data file."""
