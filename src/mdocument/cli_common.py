"""What every ``mdocument`` subcommand shares and needs no click: exit codes, masking a URI.

:mod:`mdocument.cli` (the entry point) re-exports the exit codes; the subcommand modules import
them from here, so that no subcommand imports the entry point that registers it.
"""

from __future__ import annotations

import re

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "NEEDS_CLI_EXTRA",
    "redact",
]

EXIT_OK = 0
"""The command did what it was asked."""
EXIT_FAILED = 1
"""The export failed while running (server error, bad stored document, output not writable)."""
EXIT_USAGE = 2
"""A bad option, URI or query, an unknown document or field, or a database or collection that
does not exist: fix the command line."""
EXIT_UNREACHABLE = 3
"""The server could not be reached within ``--timeout``: worth retrying later."""
EXIT_INTERRUPTED = 130
"""Interrupted by Ctrl-C."""

NEEDS_CLI_EXTRA = 'mdocument: the command line needs the cli extra: pip install "mdocument[cli]"'
"""What the command prints when click or rich is not installed (then it exits with 2)."""

_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#]*)@")


def redact(text: str, uri: str) -> str:
    """``text`` without the credentials of ``uri`` (a URI itself, or a driver's message)."""
    match = _USERINFO.match(uri)
    if match is None:
        return text
    return text.replace(match["userinfo"], "***")
