"""The embedded server never outlives the process that started it, however that process ends."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from mdocument.embedded import EmbeddedServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PARENT = """
import sys, time
from mdocument.embedded import EmbeddedServer

server = EmbeddedServer().start()
print(server._process.pid, server.port, flush=True)
time.sleep(600)
"""


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting for its new parent to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: the signal test above is all there is
        return True


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_server_stops_when_its_parent_is_killed(sig):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, "the parent did not start the server"
        pid, port = map(int, line.split())
        assert running(pid)
        assert listening(port)
        parent.send_signal(sig)
        parent.wait(10)
        assert gone_within(pid, 15), f"the server (pid {pid}) outlived its parent"
        assert not listening(port)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        if "pid" in locals() and running(pid):
            os.kill(pid, signal.SIGKILL)


def test_stop_still_stops_the_server():
    server = EmbeddedServer().start()
    process = server._process
    assert process is not None
    port = server.port
    assert port is not None
    server.stop()
    assert process.poll() is not None
    assert not listening(port)
