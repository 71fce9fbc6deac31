"""Fixtures: a running `pusherable serve`, a PyPI `pusher` client for it, and raw
WebSocket connections that speak protocol 7 the way pusher-js does."""

import collections
import os
import pathlib
import queue
import re
import subprocess
import tempfile
import threading

import pusher
import pytest

from wire import Socket

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]

APP = {
    "id": "3",
    "key": "278d425bdf160c739803",
    "secret": "7ad3773142a6692b25b8",
}

READY_LINE = re.compile(r"^pusherable listening on http://(\S+):(\d+)")
START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 10


def binary_path():
    from_env = os.environ.get("PUSHERABLE_BIN")
    if from_env:
        return pathlib.Path(from_env).resolve()
    return REPO_ROOT / "target" / "debug" / "pusherable"


class Server:
    """A `pusherable serve` process on 127.0.0.1 with a port it picked itself."""

    def __init__(self, app=APP):
        self.app = app
        binary = binary_path()
        if not binary.exists():
            raise RuntimeError(
                f"server binary not found at {binary}: "
                "run `cargo build -p pusherable-cli` or set PUSHERABLE_BIN"
            )
        self._dir = tempfile.TemporaryDirectory(prefix="pusherable-compat-")
        config = pathlib.Path(self._dir.name) / "pusherable.toml"
        config.write_text(
            'host = "127.0.0.1"\n'
            "port = 0\n"
            "\n"
            "[[apps]]\n"
            f'id = "{app["id"]}"\n'
            f'key = "{app["key"]}"\n'
            f'secret = "{app["secret"]}"\n'
            "client_events = true\n"
        )
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        self.process = subprocess.Popen(
            [str(binary), "serve", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        # The last lines the server printed, for failure messages.
        self.output = collections.deque(maxlen=200)
        lines = queue.Queue()
        threading.Thread(target=self._drain, args=(self.process.stdout, lines), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.process.stderr, None), daemon=True).start()
        self.host, self.port = self._wait_ready(lines)

    def _drain(self, stream, lines):
        for line in stream:
            self.output.append(line.rstrip("\n"))
            if lines is not None:
                lines.put(line)
        if lines is not None:
            lines.put(None)

    def _wait_ready(self, lines):
        while True:
            try:
                line = lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                self.stop()
                raise RuntimeError(
                    f"server printed no listening line within {START_TIMEOUT_S} s:\n" + self.printed()
                )
            if line is None:
                code = self.process.wait()
                raise RuntimeError(f"server exited with {code} before it was ready:\n" + self.printed())
            match = READY_LINE.match(line)
            if match:
                return match.group(1), int(match.group(2))

    def printed(self):
        return "\n".join(self.output)

    def ws_url(self, key=None):
        key = key or self.app["key"]
        return f"ws://{self.host}:{self.port}/app/{key}?protocol=7&client=python&version=compat&flash=false"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._dir.cleanup()


@pytest.fixture(scope="session")
def server():
    running = Server()
    yield running
    running.stop()


def rest_client(server, **overrides):
    options = dict(
        app_id=server.app["id"],
        key=server.app["key"],
        secret=server.app["secret"],
        ssl=False,
        host=server.host,
        port=server.port,
        timeout=10,
    )
    options.update(overrides)
    return pusher.Pusher(**options)


@pytest.fixture
def rest(server):
    return rest_client(server)


@pytest.fixture
def connect(server):
    """Opens raw protocol-7 WebSocket connections; all are closed after the test."""
    opened = []

    def open_socket():
        socket = Socket(server.ws_url())
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        socket.close()


_names = iter(range(1, 1_000_000))


@pytest.fixture
def unique():
    """Channel names that no other test uses, so tests share one server safely."""

    def make(prefix):
        return f"{prefix}{os.getpid()}-{next(_names)}"

    return make
