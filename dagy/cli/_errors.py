"""The CLI's one place where exceptions become a one-line message and an exit code (docs/cli.md)."""

from __future__ import annotations

from dagy import errors

OK = 0
RUN_FAILED = 1
USAGE = 2
NOT_FOUND = 3
CONFIG = 4
STORE_BUSY = 5
API = 6
IO = 74  # sysexits' EX_IOERR: a file or folder could not be read or written
INTERNAL = 70
INTERRUPTED = 130

# Builtin exceptions the loader and `--param` parsing raise with the spec's exact messages.
_INPUT_ERRORS = (ValueError, ImportError, TypeError)
_NOT_FOUND_ERRORS = (FileNotFoundError, AttributeError)


class CLIExit(Exception):
    """A message already formatted for the user, with its exit code (printed by DagyGroup)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, (errors.RunNotFoundError, errors.LogNotFoundError, errors.NotFoundError)):
        return NOT_FOUND
    if isinstance(exc, errors.StoreBusyError):
        return STORE_BUSY
    if isinstance(exc, errors.ConfigError):
        return CONFIG
    if isinstance(exc, errors.APIError):
        return API
    if isinstance(exc, errors.RunCancelledError):
        return INTERRUPTED
    if isinstance(exc, errors.LocalExecutionError):
        return RUN_FAILED
    if isinstance(exc, errors.DagyError):
        return USAGE
    # Exact types: these are the loader's and parser's own errors; a subclass (ModuleNotFoundError,
    # JSONDecodeError, ...) escaping from elsewhere is a bug and reported as internal.
    if type(exc) in _NOT_FOUND_ERRORS:
        return NOT_FOUND
    if type(exc) in _INPUT_ERRORS:
        return USAGE
    if isinstance(exc, OSError):  # an unwritable --output-dir, a full disk, a folder in the way
        return IO
    return INTERNAL


def message_for(exc: BaseException) -> str:
    """``Run not found: x`` stays bare; other errors are prefixed with their type, as the spec shows."""
    if isinstance(exc, (errors.RunNotFoundError, errors.LogNotFoundError)):
        return str(exc)
    if isinstance(exc, errors.APIError):
        return f"APIError {exc.status_code}: {exc.message}"
    if isinstance(exc, (errors.StoreBusyError, errors.RequestError)):
        return f"Error: {exc}"
    text = str(exc) if not isinstance(exc, KeyError) else str(exc.args[0] if exc.args else exc)
    return f"{type(exc).__name__}: {text}"
