"""The PyPI `pusher` library (pusher-http-python 3.3.4) against the REST API."""

import json

import pusher.errors
import pytest

from conftest import rest_client


def test_connection_established_is_double_encoded(connect):
    socket = connect()
    assert isinstance(socket.socket_id, str)
    assert socket.socket_id.count(".") == 1 and socket.socket_id.replace(".", "").isdigit()
    assert isinstance(socket.established["activity_timeout"], int)
    assert socket.established["activity_timeout"] > 0


def test_trigger_delivers_the_data_string_byte_for_byte(rest, connect, unique):
    socket = connect()
    channel = unique("py-trigger-")
    socket.subscribed(channel)

    assert rest.trigger(channel, "py-event", {"some": "data", "text": "héllo"}) == {}
    frame = socket.expect("py-event", channel)
    # The PyPI library writes JSON with spaces and without ASCII escapes; the
    # server must pass that string through untouched.
    assert frame["data"] == '{"some": "data", "text": "héllo"}'


def test_trigger_to_several_channels(rest, connect, unique):
    socket = connect()
    channels = [unique("py-multi-a-"), unique("py-multi-b-")]
    for channel in channels:
        socket.subscribed(channel)
    rest.trigger(channels, "py-fan-out", "plain text")
    for channel in channels:
        assert socket.expect("py-fan-out", channel)["data"] == "plain text"


def test_trigger_batch(rest, connect, unique):
    socket = connect()
    first, second = unique("py-batch-a-"), unique("py-batch-b-")
    socket.subscribed(first)
    socket.subscribed(second)
    result = rest.trigger_batch([
        {"channel": first, "name": "e1", "data": {"x": 1}},
        {"channel": second, "name": "e2", "data": "plain"},
    ])
    assert result == {}
    assert socket.expect("e1", first)["data"] == '{"x": 1}'
    assert socket.expect("e2", second)["data"] == "plain"


def test_trigger_with_socket_id_excludes_that_socket(rest, connect, unique):
    excluded, other = connect(), connect()
    channel = unique("py-exclude-")
    excluded.subscribed(channel)
    other.subscribed(channel)

    rest.trigger(channel, "skip-me", {"n": 1}, socket_id=excluded.socket_id)
    rest.trigger(channel, "marker", {"n": 2})
    # Events on one channel arrive in order, so the marker closes the window in
    # which "skip-me" could have reached the excluded socket.
    excluded.expect("marker", channel)
    other.expect("marker", channel)
    assert excluded.events(channel) == ["marker"]
    assert other.events(channel) == ["skip-me", "marker"]


def test_channels_info_for_presence_with_user_count(rest, connect, unique):
    room = unique("presence-py-count-")
    for user_id in ["u1", "u2", "u2"]:
        socket = connect()
        auth = rest.authenticate(room, socket.socket_id, {"user_id": user_id, "user_info": {"n": user_id}})
        socket.subscribed(room, auth["auth"], auth["channel_data"])
    public = unique("py-not-presence-")
    connect().subscribed(public)

    info = rest.channels_info(prefix_filter="presence-", attributes=["user_count"])
    assert info["channels"][room] == {"user_count": 2}
    assert public not in info["channels"]
    assert all(name.startswith("presence-") for name in info["channels"])


def test_channels_info_lists_occupied_channels(rest, connect, unique):
    channel = unique("py-listed-")
    connect().subscribed(channel)
    info = rest.channels_info()
    assert info["channels"][channel] == {}


def test_channel_info_with_subscription_count(rest, connect, unique):
    channel = unique("py-info-")
    connect().subscribed(channel)
    connect().subscribed(channel)
    assert rest.channel_info(channel, ["subscription_count"]) == {"occupied": True, "subscription_count": 2}
    assert rest.channel_info(unique("py-empty-"))["occupied"] is False


def test_channel_info_with_user_count_on_presence(rest, connect, unique):
    room = unique("presence-py-info-")
    socket = connect()
    auth = rest.authenticate(room, socket.socket_id, {"user_id": "solo"})
    socket.subscribed(room, auth["auth"], auth["channel_data"])
    assert rest.channel_info(room, ["user_count"]) == {"occupied": True, "user_count": 1}


def test_users_info(rest, connect, unique):
    room = unique("presence-py-users-")
    for user_id in ["ada", "bob", "bob"]:
        socket = connect()
        auth = rest.authenticate(room, socket.socket_id, {"user_id": user_id, "user_info": {}})
        socket.subscribed(room, auth["auth"], auth["channel_data"])
    users = rest.users_info(room)["users"]
    assert sorted(user["id"] for user in users) == ["ada", "bob"]


def test_users_info_on_a_non_presence_channel_is_a_bad_request(rest, connect, unique):
    channel = unique("py-not-presence-")
    connect().subscribed(channel)
    with pytest.raises(pusher.errors.PusherBadRequest):
        rest.users_info(channel)


def test_wrong_secret_is_refused(server, unique):
    wrong = rest_client(server, secret="not-the-secret")
    with pytest.raises(pusher.errors.PusherBadAuth):
        wrong.trigger(unique("py-nope-"), "e", {})


def test_trigger_data_is_not_reencoded_by_the_server(rest, connect, unique):
    socket = connect()
    channel = unique("py-raw-")
    socket.subscribed(channel)
    odd = '{"b":2,  "a" : [1,2 ,3]}'
    rest.trigger(channel, "raw", odd)
    frame = socket.expect("raw", channel)
    assert frame["data"] == odd
    assert json.loads(frame["data"]) == {"a": [1, 2, 3], "b": 2}
