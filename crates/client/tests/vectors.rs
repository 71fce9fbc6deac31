//! The signature vectors of `shared/vectors.json`, produced through the client's public API.

use std::time::{Duration, UNIX_EPOCH};

use pusherable_client::{Client, PresenceMember};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors.json");
    let text = std::fs::read_to_string(path).expect("shared/vectors.json beside the checkout");
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

fn client(all: &Value) -> Client {
    let app = &all["app"];
    Client::builder(s(app, "app_id"), s(app, "key"), s(app, "secret"))
        .encryption_master_key_base64(s(&all["encrypted_shared_secret"][0], "master_key_base64"))
        .build()
        .expect("the vectors' app is a valid configuration")
}

#[test]
fn channel_authorizations_match() {
    let all = vectors();
    let client = client(&all);
    let cases = all["channel_auth"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for v in cases {
        let case = s(v, "case");
        let channel = s(v, "channel");
        let auth = match v["channel_data"].as_str() {
            // The client writes compact JSON with a string user id, so a vector's exact
            // channel_data (a number id, or spaced JSON) is reproduced by signing it directly.
            Some(data) => {
                let sts = format!("{}:{channel}:{data}", s(v, "socket_id"));
                assert_eq!(sts, s(v, "string_to_sign"), "{case}");
                pusherable_protocol::sign::channel_auth(
                    s(&all["app"], "key"),
                    s(&all["app"], "secret"),
                    s(v, "socket_id"),
                    channel,
                    Some(data),
                )
            }
            None => {
                let auth = client
                    .authorize_channel(s(v, "socket_id"), channel, None)
                    .unwrap();
                assert_eq!(auth.channel_data, None, "{case}");
                auth.auth
            }
        };
        assert_eq!(auth, s(v, "auth"), "{case}");
    }
}

#[test]
fn presence_authorization_signs_exactly_the_channel_data_it_returns() {
    let all = vectors();
    let client = client(&all);
    let member = PresenceMember::new("10").info(serde_json::json!({"name": "Mr. Channels"}));
    let auth = client
        .authorize_channel("1234.1234", "presence-foobar", Some(&member))
        .unwrap();
    let data = auth.channel_data.as_deref().unwrap();
    assert_eq!(
        data,
        r#"{"user_id":"10","user_info":{"name":"Mr. Channels"}}"#
    );
    let sts = format!("1234.1234:presence-foobar:{data}");
    assert_eq!(
        pusherable_protocol::sign::verify_auth(
            s(&all["app"], "key"),
            s(&all["app"], "secret"),
            &auth.auth,
            &sts
        ),
        Ok(())
    );
}

#[test]
fn user_authentications_match() {
    let all = vectors();
    let client = client(&all);
    let v = &all["user_auth"][0];
    let user: Value = serde_json::from_str(s(v, "user_data")).unwrap();
    let auth = client.authenticate_user(s(v, "socket_id"), &user).unwrap();
    assert_eq!(auth.user_data, s(v, "user_data"));
    assert_eq!(auth.auth, s(v, "auth"));
}

#[test]
fn encrypted_shared_secrets_match() {
    let all = vectors();
    let client = client(&all);
    for v in all["encrypted_shared_secret"].as_array().unwrap() {
        let auth = client
            .authorize_channel("1234.1234", s(v, "channel"), None)
            .unwrap();
        assert_eq!(
            auth.shared_secret.as_deref(),
            Some(s(v, "shared_secret_base64"))
        );
    }
}

#[test]
fn webhook_vectors_verify_and_tampering_fails() {
    let all = vectors();
    let client = client(&all);
    for v in all["webhook"].as_array().unwrap() {
        let body = s(v, "body");
        let time_ms = serde_json::from_str::<Value>(body).unwrap()["time_ms"]
            .as_u64()
            .unwrap();
        let now = UNIX_EPOCH + Duration::from_millis(time_ms);
        let mut headers = HeaderMap::new();
        for (name, value) in v["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
            );
        }
        let hook = client.webhook_at(&headers, body.as_bytes(), now).unwrap();
        assert_eq!(hook.time_ms, time_ms);
        assert_eq!(hook.events.len(), 1);

        let tampered = body.replace("test-channel", "test-channem");
        assert!(client
            .webhook_at(&headers, tampered.as_bytes(), now)
            .is_err());
        // The vector is years old: with the real clock it is stale.
        assert!(client.webhook(&headers, body.as_bytes()).is_err());
    }
}
