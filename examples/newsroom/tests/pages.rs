//! The newsroom over real HTTP: sign-in, articles, validation, stale edits, CSRF, 404s, on
//! SQLite and on PostgreSQL.

mod common;

use common::{field, location, start, Browser};
use reqwest::StatusCode;

#[tokio::test]
async fn pages_send_visitors_to_sign_in_and_back() {
    let db = common::TempDb::new();
    let running = start(&db.url).await;
    let visitor = Browser::new(&running);

    let res = visitor.get("/articles/2?from=list").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/signin?next=/articles/2%3Ffrom%3Dlist");

    let page = visitor
        .get("/signin?next=/articles/2")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<code>alice</code>"),
        "the sign-in page names the demo editors"
    );
    let csrf = field(&page, "csrf").unwrap();

    let wrong = visitor
        .post(
            "/signin",
            &[
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "nope"),
                ("next", "/articles/2"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("do not match an editor"));

    let right = visitor
        .post(
            "/signin",
            &[
                ("csrf", &csrf),
                ("username", " Alice "),
                ("password", "newsroom"),
                ("next", "/articles/2"),
            ],
        )
        .await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right), "/articles/2");
    let article = visitor.get("/articles/2").await;
    assert_eq!(article.status(), StatusCode::OK);
    assert!(article.text().await.unwrap().contains("Alice Martin"));

    // Signing out ends the session for good.
    let csrf = visitor.csrf("/").await;
    let out = visitor.post("/signout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&out), "/signin");
    assert_eq!(visitor.get("/").await.status(), StatusCode::SEE_OTHER);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn sign_in_refuses_forms_without_their_token_and_foreign_next() {
    let db = common::TempDb::new();
    let running = start(&db.url).await;
    let visitor = Browser::new(&running);
    let res = visitor
        .post(
            "/signin",
            &[
                ("csrf", "forged"),
                ("username", "alice"),
                ("password", "newsroom"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("had expired"));

    // A `next` that leaves the site lands on the article list instead.
    let csrf = visitor.csrf("/signin").await;
    let res = visitor
        .post(
            "/signin",
            &[
                ("csrf", &csrf),
                ("username", "bob"),
                ("password", "newsroom"),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn articles_story_on_sqlite() {
    let db = common::TempDb::new();
    let running = start(&db.url).await;
    articles_story(&running).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn articles_story_on_postgres() {
    let db = common::Database::create().await;
    let running = start(&db.url).await;
    articles_story(&running).await;
    running.stop().await.unwrap();
    // A second start on the same database migrates nothing and seeds nothing twice.
    let again = start(&db.url).await;
    let alice = Browser::new(&again);
    alice.sign_in("alice").await;
    let list = alice.get("/").await.text().await.unwrap();
    assert_eq!(list.matches("data-article-id=").count(), 3, "{list}");
    again.stop().await.unwrap();
    db.drop().await;
}

/// Create, validate, read, edit, catch a stale edit, refuse a forged form, delete.
#[allow(clippy::unwrap_used)] // run by the tests above: a failure is theirs
async fn articles_story(running: &newsroom::Running) {
    let alice = Browser::new(running);
    let bob = Browser::new(running);
    alice.sign_in("alice").await;
    bob.sign_in("bob").await;

    // Bad input gets every message at once, and keeps what was typed.
    let csrf = alice.csrf("/articles/new").await;
    let long = "x".repeat(121);
    let res = alice
        .post(
            "/articles",
            &[
                ("csrf", &csrf),
                ("title", &long),
                ("summary", "Kept"),
                ("body", "  "),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Keep the title to 120 characters; it has 121."),
        "{page}"
    );
    assert!(
        page.contains("Write the article&#x27;s text.")
            || page.contains("Write the article's text."),
        "{page}"
    );
    assert!(page.contains(">Kept</textarea>"));

    let res = alice
        .post(
            "/articles",
            &[
                ("csrf", &csrf),
                ("title", "Tram line 4 extended"),
                ("summary", ""),
                ("body", "Two new stops."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let path = location(&res).to_owned();
    assert!(path.starts_with("/articles/"), "{path}");
    let list = bob.get("/").await.text().await.unwrap();
    assert!(list.contains("Tram line 4 extended"));

    // Both open the edit form of version 1; Bob saves first; Alice's save is caught.
    let alice_form = alice
        .get(&format!("{path}/edit"))
        .await
        .text()
        .await
        .unwrap();
    let bob_form = bob.get(&format!("{path}/edit")).await.text().await.unwrap();
    assert_eq!(field(&alice_form, "version").as_deref(), Some("1"));
    let bob_csrf = field(&bob_form, "csrf").unwrap();
    let res = bob
        .post(
            &path,
            &[
                ("csrf", &bob_csrf),
                ("version", "1"),
                ("title", "Tram line 4 extended to the port"),
                ("summary", ""),
                ("body", "Two new stops."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let alice_csrf = field(&alice_form, "csrf").unwrap();
    let res = alice
        .post(
            &path,
            &[
                ("csrf", &alice_csrf),
                ("version", "1"),
                ("title", "Tram line 4 extended"),
                ("summary", ""),
                ("body", "Three new stops."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Bob Okafor saved a newer version while you were editing"),
        "{page}"
    );
    assert!(page.contains("Three new stops."), "Alice's text is kept");
    assert_eq!(field(&page, "version").as_deref(), Some("2"));
    let stored = bob.get(&path).await.text().await.unwrap();
    assert!(
        stored.contains("Tram line 4 extended to the port") && stored.contains("Two new stops.")
    );

    // Saving again from the conflict page is a deliberate overwrite.
    let res = alice
        .post(
            &path,
            &[
                ("csrf", &alice_csrf),
                ("version", "2"),
                ("title", "Tram line 4 extended"),
                ("summary", ""),
                ("body", "Three new stops."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(bob
        .get(&path)
        .await
        .text()
        .await
        .unwrap()
        .contains("Three new stops."));

    // A form with another session's token changes nothing.
    let res = bob
        .post(
            &path,
            &[
                ("csrf", &alice_csrf),
                ("version", "3"),
                ("title", "Forged"),
                ("body", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("This form has expired"));
    let res = bob.post(&format!("{path}/delete"), &[("csrf", "")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Delete; then the article, its form and a second delete are all 404 pages.
    let res = bob
        .post(&format!("{path}/delete"), &[("csrf", &bob_csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    for gone in [path.clone(), format!("{path}/edit")] {
        let res = alice.get(&gone).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{gone}");
        assert!(res.text().await.unwrap().contains("Page not found"));
    }
    let res = bob
        .post(&format!("{path}/delete"), &[("csrf", &bob_csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = alice
        .post(
            &path,
            &[
                ("csrf", &alice_csrf),
                ("version", "3"),
                ("title", "Back"),
                ("body", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!alice
        .get("/")
        .await
        .text()
        .await
        .unwrap()
        .contains("Tram line 4"));
}

#[tokio::test]
async fn unknown_pages_are_404_pages() {
    let db = common::TempDb::new();
    let running = start(&db.url).await;
    let alice = Browser::new(&running);
    alice.sign_in("alice").await;
    for path in [
        "/articles/999",
        "/articles/abc",
        "/articles/-1/edit",
        "/nowhere",
    ] {
        let res = alice.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let page = res.text().await.unwrap();
        assert!(page.contains("<h1>Page not found</h1>"), "{path}: {page}");
    }
    // A form that is not the article form at all is a 400, not a crash.
    let csrf = alice.csrf("/articles/1/edit").await;
    let res = alice
        .post(
            "/articles/1",
            &[
                ("csrf", &csrf),
                ("version", "one"),
                ("title", "x"),
                ("body", "y"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_keeps_articles_and_sessions() {
    let db = common::TempDb::new();
    let url = db.url.clone();
    let first = start(&url).await;
    let alice = Browser::new(&first);
    alice.sign_in("alice").await;
    let csrf = alice.csrf("/articles/new").await;
    alice
        .post(
            "/articles",
            &[
                ("csrf", &csrf),
                ("title", "Survives"),
                ("body", "A restart."),
            ],
        )
        .await;
    first.stop().await.unwrap();

    let second = start(&url).await;
    // Same cookie jar, new server: the session is still good.
    let alice = Browser {
        base: format!("http://{}", second.local_addr()),
        http: alice.http,
    };
    let list = alice.get("/").await;
    assert_eq!(list.status(), StatusCode::OK);
    let list = list.text().await.unwrap();
    assert!(list.contains("Survives"));
    assert_eq!(
        list.matches("data-article-id=").count(),
        4,
        "seeded once, not twice"
    );
    second.stop().await.unwrap();
}

#[tokio::test]
async fn bad_settings_are_refused_at_start_with_a_reason() {
    let db = common::TempDb::new();
    let bad_db = newsroom::Settings::new("127.0.0.1:0".parse().unwrap(), "mysql://127.0.0.1/news");
    let err = newsroom::start(bad_db).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("DATABASE_URL must start with sqlite: or postgres:"),
        "{err}"
    );

    let mut bad_url = newsroom::Settings::new("127.0.0.1:0".parse().unwrap(), &db.url);
    bad_url.pusherable_url = Some("ftp://nowhere".into());
    let err = newsroom::start(bad_url).await.unwrap_err();
    assert!(err.to_string().starts_with("PUSHERABLE_URL"), "{err}");

    let first = start(&db.url).await;
    let other = common::TempDb::new();
    let taken = newsroom::Settings::new(first.local_addr(), &other.url);
    let err = newsroom::start(taken).await.unwrap_err();
    assert!(err.to_string().starts_with("cannot listen on"), "{err}");
    first.stop().await.unwrap();
}

#[tokio::test]
async fn what_editors_write_is_shown_as_text_never_as_markup() {
    let db = common::TempDb::new();
    let running = start(&db.url).await;
    let alice = Browser::new(&running);
    alice.sign_in("alice").await;
    let csrf = alice.csrf("/articles/new").await;
    let res = alice
        .post(
            "/articles",
            &[
                ("csrf", &csrf),
                ("title", "<script>alert(1)</script>"),
                ("body", "a \"quoted\" <b>word</b>"),
            ],
        )
        .await;
    let path = location(&res).to_owned();
    let page = alice.get(&path).await.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{page}"
    );
    assert!(page.contains("&lt;b&gt;word&lt;&#x2f;b&gt;"));
    running.stop().await.unwrap();
}
