"""A raw protocol-7 WebSocket connection, as a browser running pusher-js would
hold one, for checking exactly what the server puts on the wire."""

import json
import time

import websocket

WAIT_S = 10


class Socket:
    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=WAIT_S)
        # Every frame received, in order: negative checks read this.
        self.log = []
        # Frames received but not yet taken by expect().
        self._unread = []
        first = self._read(WAIT_S)
        assert first["event"] == "pusher:connection_established", first
        assert isinstance(first["data"], str), "connection_established data must be a JSON string"
        self.established = json.loads(first["data"])
        self.socket_id = self.established["socket_id"]

    def _read(self, timeout):
        self.ws.settimeout(max(timeout, 0.01))
        raw = self.ws.recv()
        frame = json.loads(raw)
        self.log.append(frame)
        if frame.get("event") == "pusher:ping":
            self.send("pusher:pong", {})
        return frame

    def send(self, event, data, channel=None):
        frame = {"event": event, "data": data}
        if channel is not None:
            frame["channel"] = channel
        self.ws.send(json.dumps(frame))

    def expect(self, event, channel=None, timeout=WAIT_S):
        """Returns the first unread frame with this event (and channel, if given)."""

        def matches(frame):
            return frame.get("event") == event and (channel is None or frame.get("channel") == channel)

        for index, frame in enumerate(self._unread):
            if matches(frame):
                return self._unread.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {event!r} on {channel!r} within {timeout} s; received: {json.dumps(self.log)}"
                )
            try:
                frame = self._read(left)
            except websocket.WebSocketTimeoutException:
                continue
            if matches(frame):
                return frame
            self._unread.append(frame)

    def subscribe(self, channel, auth=None, channel_data=None):
        """Sends pusher:subscribe and returns the server's answer: either
        pusher_internal:subscription_succeeded or pusher:subscription_error."""
        data = {"channel": channel, "auth": auth or ""}
        if channel_data is not None:
            data["channel_data"] = channel_data
        self.send("pusher:subscribe", data)
        deadline = time.monotonic() + WAIT_S
        while True:
            for index, frame in enumerate(self._unread):
                if frame.get("channel") == channel and frame.get("event") in (
                    "pusher_internal:subscription_succeeded",
                    "pusher:subscription_error",
                ):
                    return self._unread.pop(index)
                if frame.get("event") == "pusher:error":
                    return self._unread.pop(index)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no answer to subscribing {channel}; received: {json.dumps(self.log)}")
            try:
                self._unread.append(self._read(left))
            except websocket.WebSocketTimeoutException:
                continue

    def subscribed(self, channel, auth=None, channel_data=None):
        answer = self.subscribe(channel, auth, channel_data)
        assert answer["event"] == "pusher_internal:subscription_succeeded", answer
        return answer

    def events(self, channel):
        """The names of the channel events received so far on `channel`, in order."""
        return [
            f["event"]
            for f in self.log
            if f.get("channel") == channel and not f["event"].startswith(("pusher:", "pusher_internal:"))
        ]

    def close(self):
        try:
            self.ws.close()
        except Exception:  # already gone; nothing to clean up
            pass
