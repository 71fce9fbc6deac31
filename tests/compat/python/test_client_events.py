"""Client events sent over a raw WebSocket: what the server relays, and what it
refuses (PROTOCOL.md §2.2)."""

import json


def _join(rest, socket, channel, user_id=None):
    if channel.startswith("presence-"):
        auth = rest.authenticate(channel, socket.socket_id, {"user_id": user_id})
        return socket.subscribed(channel, auth["auth"], auth["channel_data"])
    if channel.startswith("private-"):
        return socket.subscribed(channel, rest.authenticate(channel, socket.socket_id)["auth"])
    return socket.subscribed(channel)


def test_private_client_event_is_relayed_as_a_string_and_not_echoed(rest, connect, unique):
    channel = unique("private-py-client-")
    sender, receiver = connect(), connect()
    _join(rest, sender, channel)
    _join(rest, receiver, channel)

    sender.send("client-typing", {"who": "sender"}, channel=channel)
    frame = receiver.expect("client-typing", channel)
    assert json.loads(frame["data"]) == {"who": "sender"}
    assert "user_id" not in frame

    # The receiver answers; had the sender's own event been echoed, it would
    # have reached the sender before this reply.
    receiver.send("client-reply", "ok", channel=channel)
    assert sender.expect("client-reply", channel)["data"] == "ok"
    assert sender.events(channel) == ["client-reply"]


def test_client_event_on_a_public_channel_is_refused(rest, connect, unique):
    channel = unique("py-public-client-")
    sender, receiver = connect(), connect()
    _join(rest, sender, channel)
    _join(rest, receiver, channel)

    sender.send("client-typing", {"who": "sender"}, channel=channel)
    error = sender.expect("pusher:error")
    assert isinstance(error["data"], dict) and error["data"]["message"], error

    # The sender's error came after the server handled the event; a REST marker
    # triggered now reaches the receiver after anything relayed before it.
    rest.trigger(channel, "marker", {})
    receiver.expect("marker", channel)
    assert receiver.events(channel) == ["marker"]


def test_client_event_from_a_socket_not_subscribed_is_refused(rest, connect, unique):
    channel = unique("private-py-outsider-")
    outsider, member = connect(), connect()
    _join(rest, member, channel)

    outsider.send("client-sneak", {"x": 1}, channel=channel)
    outsider.expect("pusher:error")
    rest.trigger(channel, "marker", {})
    member.expect("marker", channel)
    assert member.events(channel) == ["marker"]


def test_event_without_client_prefix_is_not_relayed(rest, connect, unique):
    channel = unique("private-py-noprefix-")
    sender, receiver = connect(), connect()
    _join(rest, sender, channel)
    _join(rest, receiver, channel)

    sender.send("typing", {"x": 1}, channel=channel)
    sender.send("client-after", {"x": 2}, channel=channel)
    # Frames of one socket are handled in order: once the later client event
    # arrives, the earlier one would have too.
    receiver.expect("client-after", channel)
    assert receiver.events(channel) == ["client-after"]
