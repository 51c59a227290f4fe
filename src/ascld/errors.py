"""One exception tree for ascld. Each class also derives from the builtin it resembles, so callers can catch
either `AscldError` or, say, `ValueError`."""

from __future__ import annotations


class AscldError(Exception):
    """Root of every error ascld raises on purpose."""


class SpecError(ValueError, AscldError):
    """The specification tables (or an overlay) are inconsistent or cannot be read."""


class UsageError(ValueError, AscldError):
    """The caller asked for something that cannot be done as asked (bad option, missing file...)."""


class UnusableInput(ValueError, AscldError):
    """An input file cannot be read at all (wrong encoding, not CSV, truncated...). Exit code 2."""


class EngineError(RuntimeError, AscldError):
    """An engine step failed; the message names the step and the engine."""


class EngineNotInstalled(ImportError, AscldError):
    """An optional engine was asked for but its extra is not installed; the message gives the pip line."""
