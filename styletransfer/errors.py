"""Error types: bad input (`ParameterError`) and engine failures (`EngineError`)."""

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


class EngineError(RuntimeError):
    """A synthesis engine failed while working: a server that stopped answering, a
    renderer that crashed, a SynthDef that does not compile.

    The message says what failed and, where there is one, what to do, in one line; it
    carries the engine's own words (sclang's error, scsynth's last output).

    Examples
    --------
    >>> raise EngineError("scsynth stopped during the render (exit code -9)")
    Traceback (most recent call last):
    ...
    styletransfer.errors.EngineError: scsynth stopped during the render (exit code -9)
    """


class InternalError(RuntimeError):
    """A fault of the tool itself, caught before it could do harm: a result that is not
    sound audio (NaN, infinite, or constant) is never written.

    Examples
    --------
    >>> raise InternalError("the result holds 3 NaN or infinite samples")
    Traceback (most recent call last):
    ...
    styletransfer.errors.InternalError: the result holds 3 NaN or infinite samples
    """


class Terminated(KeyboardInterrupt):
    """The command was asked to stop by a signal other than Ctrl-C (SIGTERM, SIGHUP): it
    cleans up as after Ctrl-C, and exits with 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
