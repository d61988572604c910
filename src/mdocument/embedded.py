"""An embedded MongoDB-compatible server for tests and examples (SecantusDB, optional extra).

:class:`EmbeddedServer` starts SecantusDB in a separate process on a free loopback port, with
in-memory storage, and stops it on exit. The server also stops by itself when the process that
started it exits, however it exits (a ``SIGTERM`` to a web server, a ``SIGKILL``, a crash): it
watches a pipe from its parent (:mod:`mdocument._embedded_child`), so no server is ever left
running with nobody to stop it. It needs ``pip install "mdocument[embedded]"``;
SecantusDB is GPL-2.0 and is never a dependency of the library itself::

    with EmbeddedServer() as server:
        client = AsyncMongoClient(server.uri)

:func:`server_uri` is what examples use: ``MONGODB_URI`` when it is set, else an embedded server.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Generator
from types import TracebackType

__all__ = ["EmbeddedServer", "EmbeddedServerError", "server_uri"]

_LISTENING = re.compile(r"listening on ([0-9.]+):(\d+)")


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started."""


class EmbeddedServer:
    """A SecantusDB server in a child process, bound to ``127.0.0.1`` on a free port.

    Args:
        standalone: advertise a standalone server (no transactions), like a plain ``mongod``;
            by default it is a single-node replica set, where transactions work.
        test_commands: enable ``configureFailPoint`` and other test-only commands. Only ever
            on loopback, for tests.
        startup_timeout: seconds to wait for the server to listen.
    """

    def __init__(
        self,
        *,
        standalone: bool = False,
        test_commands: bool = False,
        startup_timeout: float = 60.0,
    ) -> None:
        self.standalone = standalone
        self.test_commands = test_commands
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log: deque[str] = deque(maxlen=200)

    @property
    def uri(self) -> str:
        """The connection string of the running server.

        ``retryWrites=false``: the embedded server's retryable-write bookkeeping slows every
        write down as writes pile up; mdocument works either way.
        """
        if self.port is None:
            raise EmbeddedServerError("the embedded server is not running")
        return f"mongodb://{self.host}:{self.port}/?retryWrites=false"

    def command(self) -> list[str]:
        """The command line that starts the server (SecantusDB's, run by a parent watcher)."""
        command = [
            sys.executable,
            "-m",
            "mdocument._embedded_child",
            "--host",
            self.host,
            "--port",
            "0",
            "--storage-path",
            ":memory:",
            "--log-level",
            "INFO",
            "--oplog-max-entries",
            "10000000",
        ]
        if self.standalone:
            command.append("--standalone")
        if self.test_commands:
            command.append("--enable-test-commands")
        return command

    def start(self) -> EmbeddedServer:
        """Start the server and wait until it listens."""
        if importlib.util.find_spec("secantus") is None:
            raise EmbeddedServerError(
                'the embedded server needs SecantusDB: pip install "mdocument[embedded]" '
                "(or set MONGODB_URI to a running server)"
            )
        self._process = subprocess.Popen(
            self.command(),
            # A pipe nobody writes to: the server stops when it is closed, which the system
            # does when this process exits, by any signal (see mdocument._embedded_child).
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = self._wait_for_port()
        # The server logs to stderr for as long as it runs: keep draining it so it never blocks.
        threading.Thread(target=self._drain, daemon=True).start()
        self.port = port
        return self

    def _wait_for_port(self) -> int:
        process = self._process
        assert process is not None
        assert process.stderr is not None
        found: list[int] = []

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                self._log.append(line)
                match = _LISTENING.search(line)
                if match:
                    found.append(int(match.group(2)))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not found:
            self.stop()
            log = "".join(self._log)[-2000:]
            raise EmbeddedServerError(f"the embedded server did not start:\n{log}")
        return found[0]

    def _drain(self) -> None:
        process = self._process
        if process is None or process.stderr is None:
            return
        with contextlib.suppress(ValueError, OSError):
            for line in process.stderr:
                self._log.append(line)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 seconds)."""
        process, self._process = self._process, None
        self.port = None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                process.stderr.close()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def server_uri(env: str = "MONGODB_URI") -> Generator[str, None, None]:
    """The URI of ``$MONGODB_URI`` when set, else of an embedded server run for the block."""
    uri = os.environ.get(env)
    if uri:
        yield uri
        return
    started = time.perf_counter()
    with EmbeddedServer() as server:
        print(  # noqa: T201 - examples show where their data goes
            f"(embedded SecantusDB server on {server.host}:{server.port}, "
            f"started in {time.perf_counter() - started:.1f}s; set {env} to use another)",
            flush=True,
        )
        yield server.uri
