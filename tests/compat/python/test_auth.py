"""`Pusher.authenticate()` from the PyPI library, fed into pusher:subscribe over a
raw WebSocket, the way an app's auth endpoint and pusher-js work together."""

import json

from conftest import rest_client


def test_private_channel_with_pypi_authenticate(rest, connect, unique):
    socket = connect()
    channel = unique("private-py-")
    auth = rest.authenticate(channel, socket.socket_id)
    assert set(auth) == {"auth"}
    answer = socket.subscribed(channel, auth["auth"])
    # Non-presence success carries "{}" as a JSON string.
    assert answer["data"] == "{}"

    rest.trigger(channel, "secret-event", {"ok": True})
    assert socket.expect("secret-event", channel)["data"] == '{"ok": true}'


def test_presence_channel_with_spaced_channel_data(rest, connect, unique):
    room = unique("presence-py-")
    socket = connect()
    auth = rest.authenticate(room, socket.socket_id, {"user_id": "py-1", "user_info": {"name": "Py One"}})
    # The PyPI library signs json.dumps output, spaces and all; the server must
    # check the signature over exactly this string.
    assert auth["channel_data"] == '{"user_id": "py-1", "user_info": {"name": "Py One"}}'

    answer = socket.subscribed(room, auth["auth"], auth["channel_data"])
    assert isinstance(answer["data"], str), "subscription_succeeded data must be a JSON string"
    presence = json.loads(answer["data"])["presence"]
    assert presence == {"ids": ["py-1"], "hash": {"py-1": {"name": "Py One"}}, "count": 1}


def test_presence_member_added_and_removed_on_the_wire(rest, connect, unique):
    room = unique("presence-py-members-")
    first, second = connect(), connect()
    auth = rest.authenticate(room, first.socket_id, {"user_id": "first", "user_info": {"n": 1}})
    first.subscribed(room, auth["auth"], auth["channel_data"])

    auth = rest.authenticate(room, second.socket_id, {"user_id": "second", "user_info": {"n": 2}})
    answer = second.subscribed(room, auth["auth"], auth["channel_data"])
    presence = json.loads(answer["data"])["presence"]
    assert sorted(presence["ids"]) == ["first", "second"]
    assert presence["hash"] == {"first": {"n": 1}, "second": {"n": 2}}
    assert presence["count"] == 2

    added = first.expect("pusher_internal:member_added", room)
    assert isinstance(added["data"], str)
    assert json.loads(added["data"]) == {"user_id": "second", "user_info": {"n": 2}}

    second.close()
    removed = first.expect("pusher_internal:member_removed", room)
    assert json.loads(removed["data"]) == {"user_id": "second"}


def test_numeric_user_id_becomes_a_string_member_id(rest, connect, unique):
    room = unique("presence-py-numeric-")
    socket = connect()
    auth = rest.authenticate(room, socket.socket_id, {"user_id": 10, "user_info": {"name": "Mr. Channels"}})
    assert auth["channel_data"] == '{"user_id": 10, "user_info": {"name": "Mr. Channels"}}'
    answer = socket.subscribed(room, auth["auth"], auth["channel_data"])
    presence = json.loads(answer["data"])["presence"]
    assert presence["ids"] == ["10"]
    assert presence["hash"] == {"10": {"name": "Mr. Channels"}}
    assert rest.users_info(room) == {"users": [{"id": "10"}]}


def test_reserialized_channel_data_does_not_verify(rest, connect, unique):
    room = unique("presence-py-tampered-")
    socket = connect()
    auth = rest.authenticate(room, socket.socket_id, {"user_id": "py-2", "user_info": {"name": "Two"}})
    compact = json.dumps(json.loads(auth["channel_data"]), separators=(",", ":"))
    assert compact != auth["channel_data"]
    answer = socket.subscribe(room, auth["auth"], compact)
    assert answer["event"] == "pusher:subscription_error", answer
    assert rest.channel_info(room)["occupied"] is False


def test_wrong_secret_gives_subscription_error(server, connect, unique):
    wrong = rest_client(server, secret="not-the-secret")
    socket = connect()
    channel = unique("private-py-denied-")
    auth = wrong.authenticate(channel, socket.socket_id)
    answer = socket.subscribe(channel, auth["auth"])
    assert answer["event"] == "pusher:subscription_error", answer
    assert answer["channel"] == channel
    assert answer["data"]["type"] == "AuthError"
    assert answer["data"]["status"] == 401


def test_signature_for_another_socket_is_refused(rest, connect, unique):
    socket, other = connect(), connect()
    channel = unique("private-py-stolen-")
    auth = rest.authenticate(channel, other.socket_id)
    answer = socket.subscribe(channel, auth["auth"])
    assert answer["event"] == "pusher:subscription_error", answer


def test_private_channel_without_auth_is_refused(connect, unique):
    socket = connect()
    channel = unique("private-py-noauth-")
    answer = socket.subscribe(channel)
    assert answer["event"] == "pusher:subscription_error", answer


def test_client_event_on_presence_carries_user_id(rest, connect, unique):
    room = unique("presence-py-whisper-")
    sender, receiver = connect(), connect()
    for socket, user_id in [(sender, "talker"), (receiver, "listener")]:
        auth = rest.authenticate(room, socket.socket_id, {"user_id": user_id})
        socket.subscribed(room, auth["auth"], auth["channel_data"])

    sender.send("client-typing", {"who": "talker"}, channel=room)
    frame = receiver.expect("client-typing", room)
    assert frame["user_id"] == "talker"
    assert isinstance(frame["data"], str)
    assert json.loads(frame["data"]) == {"who": "talker"}
