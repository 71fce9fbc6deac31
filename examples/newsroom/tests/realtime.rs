//! What the web layer's authorization endpoint answers for the newsroom's editors: pages may
//! follow the articles that exist and the article list, as themselves, and nothing else.

mod common;

use common::{start, Browser};
use reqwest::StatusCode;
use serde_json::Value;

async fn authorize(browser: &Browser, channel: &str) -> (StatusCode, Value) {
    let res = browser
        .post(
            "/pusherable/auth",
            &[("socket_id", "1234.5678"), ("channel_name", channel)],
        )
        .await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn editors_may_follow_existing_articles_and_the_list_only() {
    let db = common::TempDb::new();
    let running = start(&db.url).await;
    follow_rules(&running).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_same_rules_hold_on_postgres() {
    let db = common::Database::create().await;
    let running = start(&db.url).await;
    follow_rules(&running).await;
    running.stop().await.unwrap();
    db.drop().await;
}

#[allow(clippy::unwrap_used)] // run by the tests above: a failure is theirs
async fn follow_rules(running: &newsroom::Running) {
    let visitor = Browser::new(running);
    assert_eq!(
        authorize(&visitor, "presence-article-1").await.0,
        StatusCode::FORBIDDEN
    );

    let alice = Browser::new(running);
    alice.sign_in("alice").await;
    let (status, body) = authorize(&alice, "presence-article-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let member: Value = serde_json::from_str(body["channel_data"].as_str().unwrap()).unwrap();
    assert_eq!(member["user_info"]["name"], "Alice Martin");
    assert!(
        body["auth"].as_str().unwrap().starts_with("pusherable:"),
        "{body}"
    );

    let (status, body) = authorize(&alice, "private-desk-front").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("channel_data").is_none());

    for refused in [
        "presence-article-999",
        "private-article-1",
        "presence-article-abc",
        "private-desk-back",
        "presence-editor-1",
    ] {
        assert_eq!(
            authorize(&alice, refused).await.0,
            StatusCode::FORBIDDEN,
            "{refused}"
        );
    }
}
