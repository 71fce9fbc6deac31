"""Fixtures: a running `pusherable serve`, a PyPI `pusher` client for it, raw
WebSocket connections that speak protocol 7 the way pusher-js does, pusher-js
itself in a node process, and an app's auth endpoint built on the PyPI library."""

import collections
import json
import os
import pathlib
import queue
import re
import subprocess
import tempfile
import threading

import pusher
import pytest

from app_server import AuthEndpoint
from pusherjs import PusherJs
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


def toml_value(value):
    """A TOML value for a string, number, boolean, list or dict (inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


class Server:
    """A `pusherable serve` process on 127.0.0.1 with a port it picked itself.
    `app_settings` go into the app's section as they are (`subscription_count`,
    `webhooks`, ...; see crates/server/src/config.rs)."""

    def __init__(self, app=APP, app_settings=None):
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
            + "".join(f"{name} = {toml_value(value)}\n" for name, value in (app_settings or {}).items())
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


@pytest.fixture(scope="session")
def auth_endpoint(server):
    endpoint = AuthEndpoint(rest_client(server))
    yield endpoint
    endpoint.close()


@pytest.fixture
def pusher_js(server, auth_endpoint):
    """Starts pusher-js clients for the server, with the auth endpoint for
    channels and sign-in; `user_params` go to the sign-in request. All are
    closed after the test."""
    started = []

    def start(user_params=None, params=None):
        client = PusherJs({
            "host": server.host,
            "port": server.port,
            "key": server.app["key"],
            "authEndpoint": auth_endpoint.url("/auth"),
            "params": params or {},
            "userAuthEndpoint": auth_endpoint.url("/user-auth"),
            "userParams": user_params or {},
        })
        started.append(client)
        client.connected()
        return client

    yield start
    for client in started:
        client.close()
