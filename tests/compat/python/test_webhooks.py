"""Webhooks to a Python receiver that checks every request with the PyPI
library's `validate_webhook` and with the npm library's `isValid()`. Raw
WebSocket connections cause the events."""

import json

import pytest

from app_server import NpmWebhookCheck, WebhookReceiver
from conftest import APP, Server, rest_client
from wire import Socket


@pytest.fixture(scope="module")
def receiver():
    npm_check = NpmWebhookCheck()
    running = WebhookReceiver(APP, npm_check)
    yield running
    running.close()
    npm_check.close()


@pytest.fixture(scope="module")
def hooked(receiver):
    """A server whose app sends every webhook to the receiver, with subscription counts on."""
    running = Server(app_settings={
        "subscription_count": True,
        "webhooks": [{"url": receiver.url("/pusher/webhooks")}],
    })
    yield running
    running.stop()


@pytest.fixture
def open_socket(hooked):
    opened = []

    def open_one():
        socket = Socket(hooked.ws_url())
        opened.append(socket)
        return socket

    yield open_one
    for socket in opened:
        socket.close()


def on(name, channel, **fields):
    """Matches webhook events by name, channel and any other fields."""
    wanted = {"name": name, "channel": channel, **fields}
    return lambda e: all(e.get(k) == v for k, v in wanted.items())


def request_with(receiver, event):
    return next(r for r in receiver.requests if event in json.loads(r["body"])["events"])


def test_channel_occupied_passes_both_libraries(receiver, open_socket, unique):
    channel = unique("py-hooked-")
    open_socket().subscribed(channel)
    event = receiver.wait_for(on("channel_occupied", channel), f"channel_occupied for {channel}")
    assert event == {"name": "channel_occupied", "channel": channel}

    request = request_with(receiver, event)
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["x-pusher-key"] == APP["key"]
    assert request["pypi"] is not None, f"validate_webhook refused {request['body']}"
    assert request["pypi"]["events"] == [event]
    assert request["npm"] == {"valid": True, "events": [event]}


def test_member_added_and_client_event(receiver, hooked, open_socket, unique):
    rest = rest_client(hooked)
    room = unique("presence-py-hooked-")
    socket = open_socket()
    auth = rest.authenticate(room, socket.socket_id, {"user_id": "py-typist", "user_info": {"n": 1}})
    socket.subscribed(room, auth["auth"], auth["channel_data"])
    added = receiver.wait_for(on("member_added", room), f"member_added for {room}")
    assert added == {"name": "member_added", "channel": room, "user_id": "py-typist"}

    socket.send("client-typing", {"who": "py"}, channel=room)
    sent = receiver.wait_for(on("client_event", room), f"client_event on {room}")
    assert sent["event"] == "client-typing"
    assert json.loads(sent["data"]) == {"who": "py"}
    assert sent["socket_id"] == socket.socket_id
    assert sent["user_id"] == "py-typist"


def test_cache_miss_and_subscription_count(receiver, open_socket, unique):
    cache = unique("cache-py-hooked-")
    socket = open_socket()
    socket.subscribed(cache)
    socket.expect("pusher:cache_miss", cache)
    assert receiver.wait_for(on("cache_miss", cache), f"cache_miss for {cache}") == {
        "name": "cache_miss", "channel": cache,
    }

    counted = unique("py-counted-")
    first, second = open_socket(), open_socket()
    first.subscribed(counted)
    second.subscribed(counted)
    receiver.wait_for(on("subscription_count", counted, subscription_count=2), "a count of 2")
    counts = [e["subscription_count"] for e in receiver.events if on("subscription_count", counted)(e)]
    assert counts == [1, 2]


def test_member_removed_and_channel_vacated_after_the_delay(receiver, hooked, open_socket, unique):
    rest = rest_client(hooked)
    room = unique("presence-py-left-")
    socket = open_socket()
    auth = rest.authenticate(room, socket.socket_id, {"user_id": "py-leaver"})
    socket.subscribed(room, auth["auth"], auth["channel_data"])
    receiver.wait_for(on("member_added", room), f"member_added for {room}")
    socket.close()

    removed = receiver.wait_for(on("member_removed", room), f"member_removed for {room}")
    assert removed == {"name": "member_removed", "channel": room, "user_id": "py-leaver"}
    assert receiver.wait_for(on("channel_vacated", room), f"channel_vacated for {room}") == {
        "name": "channel_vacated", "channel": room,
    }


def test_every_request_passes_both_libraries(receiver, open_socket, unique):
    channel = unique("py-hooked-last-")
    open_socket().subscribed(channel)
    receiver.wait_for(on("channel_occupied", channel), f"channel_occupied for {channel}")
    for request in receiver.requests:
        assert request["pypi"] is not None, f"validate_webhook refused {request['body']}"
        assert request["npm"]["valid"] is True, f"npm isValid() refused {request['body']}"
        assert len(json.loads(request["body"])["events"]) == 1, "without batching, one event a request"
