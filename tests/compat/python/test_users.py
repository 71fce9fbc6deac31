"""pusher-js signed in through an endpoint built on the PyPI library's
`authenticate_user`, receiving `send_to_user` events, and closed by
`terminate_user_connections` (which posts to the bare /users/... path)."""


def sign_in(pusher_js, user_id, watchlist=None):
    params = {"user_id": user_id, "user_name": f"name of {user_id}"}
    if watchlist:
        params["watchlist"] = ",".join(watchlist)
    client = pusher_js(user_params=params)
    user = client.signed_in()
    return client, user


def test_pusher_js_signs_in_with_the_spaced_user_data_of_authenticate_user(pusher_js, auth_endpoint, unique):
    user_id = unique("py-user-")
    client, user = sign_in(pusher_js, user_id)
    # The PyPI library signs `json.dumps` output, spaces included; the server
    # verified that exact string and pusher-js parsed it back.
    assert user == {"id": user_id, "user_info": {"name": f"name of {user_id}"}}
    assert any(path == "/user-auth" and form["user_id"] == user_id for path, form in auth_endpoint.requests)
    assert client.inspect()["state"] == "connected"


def test_send_to_user_reaches_every_connection_of_the_user_on_pusher_user(pusher_js, rest, unique):
    user_id, other_id = unique("py-user-"), unique("py-user-")
    first, _ = sign_in(pusher_js, user_id)
    second, _ = sign_in(pusher_js, user_id)
    other, _ = sign_in(pusher_js, other_id)

    assert rest.send_to_user(user_id, "invoice-ready", {"invoice": 42, "total": "€12.50"}) == {}
    rest.send_to_user(other_id, "marker", "last")
    for client in (first, second):
        report = client.user_event("invoice-ready")
        assert report["data"] == {"invoice": 42, "total": "€12.50"}
    # Events to one user arrive in order: the marker shows the invoice did not
    # reach the other user.
    other.user_event("marker")
    assert [r["event"] for r in other.log if r["type"] == "user"] == ["marker"]


def test_send_to_user_passes_plain_strings_through(pusher_js, rest, unique):
    client, user = sign_in(pusher_js, unique("py-user-"))
    rest.send_to_user(user["id"], "note", "plain text, not JSON")
    assert client.user_event("note")["data"] == "plain text, not JSON"


def test_watchlist_online_and_offline(pusher_js, unique):
    watched = unique("py-watched-")
    watcher, _ = sign_in(pusher_js, unique("py-watcher-"), watchlist=[watched])
    first = watcher.expect(lambda r: r["type"] == "watchlist")
    assert first["event"] == "offline"
    assert first["data"] == {"name": "offline", "user_ids": [watched]}

    client, _ = sign_in(pusher_js, watched)
    online = watcher.expect(lambda r: r["type"] == "watchlist")
    assert online["data"] == {"name": "online", "user_ids": [watched]}

    client.do("disconnect")
    offline = watcher.expect(lambda r: r["type"] == "watchlist")
    assert offline["data"] == {"name": "offline", "user_ids": [watched]}


def test_terminate_user_connections_disconnects_pusher_js_for_good(pusher_js, rest, unique):
    user_id = unique("py-kicked-")
    kicked = [sign_in(pusher_js, user_id)[0] for _ in range(2)]
    bystander, bystander_user = sign_in(pusher_js, unique("py-bystander-"))

    assert rest.terminate_user_connections(user_id) == {}

    for client in kicked:
        client.state("disconnected")
        assert any(
            r["type"] == "error" and (r["error"].get("data") or {}).get("code") == 4009 for r in client.log
        ), client.log
    # Once the bystander's marker is in, the server has handled the termination.
    rest.send_to_user(bystander_user["id"], "marker", {})
    bystander.user_event("marker")
    for client in kicked:
        status = client.inspect()
        assert status["state"] == "disconnected", status
        assert status["retry_pending"] is False, "pusher-js must not reconnect after 4009"
        states = [r["current"] for r in client.log if r["type"] == "state"]
        assert states[-2:] == ["connected", "disconnected"], states
    assert bystander.inspect()["state"] == "connected"
