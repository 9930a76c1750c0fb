"""The one error type for bad input."""

from __future__ import annotations


class ParameterError(ValueError):
    """Bad input: a value, a file or an option that the tool cannot use.

    The message names the bad value and says what would be valid, in one line.

    Examples
    --------
    >>> raise ParameterError("--strength 1.5 is out of range: use a value from 0 to 1")
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: --strength 1.5 is out of range: use a value from 0 to 1
    """
