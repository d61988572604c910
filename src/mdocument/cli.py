"""The ``mdocument`` command line (the ``cli`` extra: ``pip install -e ".[cli]"`` in a clone).

``mdocument export MODULE:Document --uri URI --db NAME`` writes the documents of one class as
JSON Lines, JSON or CSV, with sensitive values masked unless ``--reveal`` is given. It shows a
progress bar when its standard error is a terminal, and stays quiet otherwise.

Exit codes, for scripts:

====  =======================================================================================
0     done
1     the export failed while running: an error of the server, a stored document that does
      not match its class, the output could not be written
2     usage: a bad option, ``--uri`` or ``--query``, an unknown document or field, a
      database or collection that does not exist (a misspelled ``--db``)
3     the server could not be reached within ``--timeout`` seconds: worth retrying later
130   interrupted (Ctrl-C); no partial ``--out`` file is left behind
====  =======================================================================================

Without click and rich (the ``cli`` extra), the command prints what to install, in one line on
standard error, and exits with 2.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "NEEDS_CLI_EXTRA",
    "cli",
    "main",
]

from mdocument.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    NEEDS_CLI_EXTRA,
)

# The console script imports this module whatever is installed: the command's own
# dependencies (click, rich) are imported only when they are there.
_EXTRA = ("click", "rich")


def _has_cli_extra() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in _EXTRA)


if TYPE_CHECKING or _has_cli_extra():
    # The command itself, and the helpers scripts and tests use (`as` names re-export them).
    from mdocument._cli import CommandError as CommandError
    from mdocument._cli import ServerUnreachable as ServerUnreachable
    from mdocument._cli import UsageProblem as UsageProblem
    from mdocument._cli import cli as cli
    from mdocument._cli import load_document as load_document
    from mdocument._cli import parse_fields as parse_fields
    from mdocument._cli import parse_query as parse_query
    from mdocument._cli import redact as redact
    from mdocument.cli_check import register as _register_check
    from mdocument.cli_migrate import register as _register_migrate
    from mdocument.cli_schema import register as _register_schema

    _register_check(cli)  # `mdocument check` (in its own module: mdocument.cli_check)
    _register_schema(cli)  # `mdocument graph|indexes|validators` (mdocument.cli_schema)
    _register_migrate(cli)  # `mdocument migrate` (mdocument.cli_migrate)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``mdocument`` console script."""
    if not _has_cli_extra():
        print(NEEDS_CLI_EXTRA, file=sys.stderr)  # noqa: T201 - the command's one line of output
        sys.exit(EXIT_USAGE)
    from mdocument._cli import main as run

    run(argv)


if __name__ == "__main__":
    main()
