"""pusher-js 8 (the node build) in a process of its own, as a browser tab would
hold it, so that the official client can face the PyPI library. The process is
tests/compat/node/lib/browser.js; this module sends it commands and reads its
reports (both one JSON object a line)."""

import json
import pathlib
import queue
import shutil
import subprocess
import threading
import time

COMPAT_DIR = pathlib.Path(__file__).resolve().parents[1]
BROWSER_JS = COMPAT_DIR / "node" / "lib" / "browser.js"
WAIT_S = 10


def node_binary():
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the pusher-js tests need Node 20")
    if not (COMPAT_DIR / "node_modules" / "pusher-js").is_dir():
        raise RuntimeError(f"pusher-js is not installed: run `npm ci` in {COMPAT_DIR}")
    return node


class PusherJs:
    """One pusher-js client. `settings` are browser.js's: host, port, key, and
    optionally tls, authEndpoint, params, userAuthEndpoint, userParams."""

    def __init__(self, settings, env=None):
        self.process = subprocess.Popen(
            [node_binary(), str(BROWSER_JS), json.dumps(settings)],
            cwd=COMPAT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        # Every report received, in order: negative checks read this.
        self.log = []
        self._reports = queue.Queue()
        self._unread = []
        self._stderr = []
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stdout(self):
        for line in self.process.stdout:
            self._reports.put(json.loads(line))
        self._reports.put(None)

    def _drain_stderr(self):
        for line in self.process.stderr:
            self._stderr.append(line.rstrip("\n"))

    def do(self, command, **fields):
        self.process.stdin.write(json.dumps({"do": command, **fields}) + "\n")
        self.process.stdin.flush()

    def expect(self, match, timeout=WAIT_S):
        """Returns the first unread report for which `match(report)` is true."""
        for index, report in enumerate(self._unread):
            if match(report):
                return self._unread.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(self._failure(f"no matching report within {timeout} s"))
            try:
                report = self._reports.get(timeout=left)
            except queue.Empty:
                continue
            if report is None:
                raise AssertionError(self._failure("pusher-js exited"))
            self.log.append(report)
            if report.get("type") == "failed":
                raise AssertionError(self._failure(f"a command failed: {report}"))
            if match(report):
                return report
            self._unread.append(report)

    def _failure(self, what):
        return f"{what}; reports: {json.dumps(self.log)}; stderr: {self._stderr[-20:]}"

    def state(self, current):
        return self.expect(lambda r: r["type"] == "state" and r["current"] == current)

    def connected(self):
        return self.state("connected")["socket_id"]

    def signed_in(self):
        self.do("signin")
        report = self.expect(lambda r: r["type"] in ("signed_in", "signin_failed"))
        assert report["type"] == "signed_in", self._failure("sign-in failed")
        return report["user"]

    def subscribed(self, channel):
        self.do("subscribe", channel=channel)
        self.channel_event(channel, "pusher:subscription_succeeded")

    def channel_event(self, channel, event):
        return self.expect(
            lambda r: r["type"] == "channel" and r["channel"] == channel and r["event"] == event
        )

    def user_event(self, event):
        return self.expect(lambda r: r["type"] == "user" and r["event"] == event)

    def inspect(self):
        self.do("inspect")
        return self.expect(lambda r: r["type"] == "inspect")

    def close(self):
        if self.process.poll() is None:
            try:
                self.do("exit")
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.process.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
