"""The app's side, as a Python web app would run it: an auth endpoint built on
the PyPI library's `authenticate` and `authenticate_user`, and a webhook
receiver that checks requests with `validate_webhook` and, through
tests/compat/node/lib/check-webhook.js, with the npm library's `isValid()`."""

import json
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pusher

from pusherjs import COMPAT_DIR, node_binary

WAIT_S = 10


class _Endpoint:
    """An HTTP server on 127.0.0.1 with a free port, serving `handle(request)`
    on a thread of its own."""

    def __init__(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                # Header names are case-insensitive; as in most web frameworks, the
                # handler sees them in one case (lower).
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, content_type, reply = owner.handle(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self._http.shutdown()
        self._http.server_close()


class AuthEndpoint(_Endpoint):
    """POST /auth authorizes channels (presence members from the `user_id` and
    `user_name` fields); POST /user-auth signs users in as `{id: user_id,
    user_info: {name: user_name}, watchlist}` (`watchlist`: comma-separated ids)."""

    def __init__(self, pusher):
        self.pusher = pusher
        self.requests = []
        super().__init__()

    def handle(self, path, headers, body):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        self.requests.append((path, form))
        socket_id = form.get("socket_id", "")
        try:
            if path == "/user-auth":
                user = {"id": form.get("user_id"), "user_info": {"name": form.get("user_name")}}
                if form.get("watchlist"):
                    user["watchlist"] = form["watchlist"].split(",")
                reply = self.pusher.authenticate_user(socket_id, user)
            elif path == "/auth":
                channel = form.get("channel_name", "")
                member = None
                if channel.startswith("presence-"):
                    member = {"user_id": form.get("user_id"), "user_info": {"name": form.get("user_name")}}
                reply = self.pusher.authenticate(channel, socket_id, member)
            else:
                return 404, "text/plain", b"not found"
        except Exception as error:  # the library refused the input: deny, as an app would
            return 403, "text/plain", str(error).encode()
        return 200, "application/json", json.dumps(reply).encode()


class NpmWebhookCheck:
    """The npm library's `webhook({headers, rawBody}).isValid()`, in a node process."""

    def __init__(self):
        self.process = subprocess.Popen(
            [node_binary(), str(COMPAT_DIR / "node" / "lib" / "check-webhook.js")],
            cwd=COMPAT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()

    def check(self, key, secret, headers, body):
        line = json.dumps({"key": key, "secret": secret, "headers": headers, "body": body})
        with self._lock:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError("the npm webhook check exited")
        return json.loads(answer)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=WAIT_S)


class WebhookReceiver(_Endpoint):
    """Records every request as a dict with `headers` (names in lower case),
    `body` (text), `pypi` (what `validate_webhook` returned) and `npm` (the npm
    check's answer), for the app `app` (a dict with `id`, `key` and `secret`)."""

    def __init__(self, app, npm_check):
        self.app = app
        self.pusher = pusher.Pusher(app_id=app["id"], key=app["key"], secret=app["secret"])
        self.npm_check = npm_check
        self.requests = []
        self._changed = threading.Condition()
        super().__init__()

    def handle(self, path, headers, body):
        text = body.decode()
        request = {
            "path": path,
            "headers": headers,
            "body": text,
            "pypi": self.pusher.validate_webhook(
                headers.get("x-pusher-key", ""), headers.get("x-pusher-signature", ""), text
            ),
            "npm": self.npm_check.check(self.app["key"], self.app["secret"], headers, text),
        }
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
        return 200, "text/plain", b"ok"

    @property
    def events(self):
        """Every event received, in order, from the body as sent."""
        with self._changed:
            return [event for r in self.requests for event in json.loads(r["body"])["events"]]

    def wait_for(self, match, what, timeout=WAIT_S):
        """Returns the first event for which `match(event)` is true."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no webhook {what} within {timeout} s; received: {self.events}")
                self._changed.wait(left)
