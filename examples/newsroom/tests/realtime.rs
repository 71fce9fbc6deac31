//! What the web layer's authorization endpoints answer for the newsroom's editors: pages may
//! follow the articles that exist and the article list, as themselves, and nothing else; they
//! sign in following the other editors, and can ask an article's version after being offline.

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

#[tokio::test]
async fn signed_in_pages_follow_the_other_editors() {
    let db = common::TempDb::new();
    let running = start(&db.url).await;

    let alice = Browser::new(&running);
    alice.sign_in("alice").await;
    let res = alice
        .post("/pusherable/user-auth", &[("socket_id", "1234.5678")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let user: Value = serde_json::from_str(body["user_data"].as_str().unwrap()).unwrap();
    // The seeded editors: Alice is 1, Bob 2, Carol 3.
    assert_eq!(user["id"], "1");
    assert_eq!(user["user_info"]["name"], "Alice Martin");
    assert_eq!(user["watchlist"], serde_json::json!(["2", "3"]));

    let visitor = Browser::new(&running);
    let res = visitor
        .post("/pusherable/user-auth", &[("socket_id", "1234.5678")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Every page lists the others for the masthead, hidden until they are online.
    let page = alice.get("/").await.text().await.unwrap();
    assert!(
        page.contains(r#"<li data-user-id="2" title="Bob Okafor" hidden>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<li data-user-id="3" title="Carol Diaz" hidden>"#),
        "{page}"
    );
    assert!(!page.contains(r#"<li data-user-id="1""#), "{page}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_page_back_online_can_ask_for_the_articles_version() {
    let db = common::TempDb::new();
    let running = start(&db.url).await;
    let alice = Browser::new(&running);
    alice.sign_in("alice").await;

    let page = alice.get("/articles/1").await.text().await.unwrap();
    assert!(page.contains(r#"data-version="1""#), "{page}");
    let res = alice.get("/articles/1/version").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        serde_json::json!({"version": 1})
    );

    // A save moves it on.
    let edit = alice.get("/articles/1/edit").await.text().await.unwrap();
    let csrf = common::field(&edit, "csrf").unwrap();
    let res = alice
        .post(
            "/articles/1",
            &[
                ("csrf", csrf.as_str()),
                ("version", "1"),
                ("title", "A new headline"),
                ("summary", ""),
                ("body", "New text."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let version: Value = alice.get("/articles/1/version").await.json().await.unwrap();
    assert_eq!(version["version"], 2);

    assert_eq!(
        alice.get("/articles/999/version").await.status(),
        StatusCode::NOT_FOUND
    );
    let visitor = Browser::new(&running);
    let res = visitor.get("/articles/1/version").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    running.stop().await.unwrap();
}
