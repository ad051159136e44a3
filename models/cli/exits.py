"""The exit code of each error a command can end with (the table in :mod:`models.cli`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from models.config import ConfigError
from models.pipeline.results import DamagedResultsError, ResultsDirError, RunLockedError

EXIT_INVALID, EXIT_EXISTS, EXIT_NOT_FOUND, EXIT_RESULTS_DIR, EXIT_DAMAGED = 2, 3, 4, 5, 6
EXIT_LOCKED = 7
#: The error -> exit code of a command, the first matching kind wins (the results-folder
#: errors before the file errors they may derive from).
EXIT_OF_ERROR = ((ResultsDirError, EXIT_RESULTS_DIR), (DamagedResultsError, EXIT_DAMAGED),
                 (RunLockedError, EXIT_LOCKED), (FileExistsError, EXIT_EXISTS),
                 (FileNotFoundError, EXIT_NOT_FOUND))


def exit_code(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``command(args)``; an error the user can cause becomes one message on stderr and
    its exit code."""
    try:
        return command(args)
    except ConfigError as exc:
        print(f"error: invalid input\n{exc}", file=sys.stderr)
        return EXIT_INVALID
    except tuple(t for t, _ in EXIT_OF_ERROR) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return next(code for kind, code in EXIT_OF_ERROR if isinstance(exc, kind))
