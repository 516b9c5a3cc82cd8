"""User-facing errors.

Anything a user can get wrong (an unknown name, a bad value, a missing file, an unwritable path) raises a
`DlfError`. The CLI prints its message as one line and exits non-zero, without a traceback. The message names
the problem and the fix.
"""


class DlfError(Exception):
    """A problem the user can fix; printed as one line by the CLI."""

    exit_code = 2
    keep_run = False
    """Whether a run folder that saw this error is worth keeping (e.g. it holds a checkpoint to resume from)."""


class ConfigError(DlfError):
    """A bad option value."""


class DataError(DlfError):
    """A missing or corrupt data file."""


def shorten(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters with an ellipsis, so that a huge user value never floods a message."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
