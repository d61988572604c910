"""Run the embedded SecantusDB server for as long as the process that started it lives.

``python -m mdocument._embedded_child ARGS...`` is ``python -m secantus ARGS...`` plus a watcher:
the parent (:class:`mdocument.embedded.EmbeddedServer`) gives this process a pipe as standard
input and never writes to it. When the parent exits, however it exits (``SIGKILL`` included),
the system closes its end of the pipe; the watcher then reads end-of-file and stops the server.
Unlike ``prctl(PR_SET_PDEATHSIG)`` this works on every system, and unlike polling the parent's
pid it cannot be fooled by a reused pid.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

__all__ = ["main"]

# Seconds the server has to stop on SIGTERM (its own handler) before the process just exits.
_GRACE = 5.0


def _watch_parent() -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass  # the parent never writes; anything read is ignored
    except (OSError, ValueError):
        pass  # standard input closed or unusable: the parent is gone as far as we can tell
    # The server's SIGTERM handler stops it cleanly in the main thread.
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(_GRACE)
    os._exit(0)


def main() -> None:
    """Start the watcher, then run SecantusDB's command line with this process's arguments."""
    threading.Thread(target=_watch_parent, name="parent-watcher", daemon=True).start()
    sys.argv = ["secantus", *sys.argv[1:]]
    runpy.run_module("secantus", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
