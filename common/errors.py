"""The one base class of errors a user can act on. The CLI prints them as one line and exits 2."""

from __future__ import annotations


class HebatronError(Exception):
    """A problem the user can fix: the message names the file (and record) and says what to do.

    Stages derive their own errors from it (often together with ``ValueError`` or ``FileNotFoundError``,
    so callers catching those still do)."""


class StaleInputError(HebatronError, RuntimeError):
    """A stage's inputs changed after a later stage read them; the message names the stage to re-run."""
