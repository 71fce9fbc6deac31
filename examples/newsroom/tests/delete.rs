//! Deleting an article over real HTTP and a real WebSocket: a confirmation page first, which
//! tells the other editors on the article, then the delete itself. Forms without their token
//! and unknown articles are refused and tell no one.

mod common;

use common::{
    field,
    listener::{attribute, Listener},
    location, start, Browser,
};
use reqwest::StatusCode;

#[tokio::test]
async fn delete_asks_first_and_tells_the_others_on_sqlite() {
    let db = common::TempDb::new();
    delete_story(start(&db.url).await).await;
}

#[tokio::test]
async fn delete_asks_first_and_tells_the_others_on_postgres() {
    let db = common::Database::create().await;
    delete_story(start(&db.url).await).await;
    db.drop().await;
}

#[allow(clippy::unwrap_used)] // run by the tests above: a failure is theirs
async fn delete_story(running: newsroom::Running) {
    let alice = Browser::new(&running);
    let bob = Browser::new(&running);
    alice.sign_in("alice").await;
    bob.sign_in("bob").await;

    let csrf = alice.csrf("/articles/new").await;
    let res = alice
        .post(
            "/articles",
            &[
                ("csrf", &csrf),
                ("title", "Harbour bridge shut for repairs"),
                ("body", "Until Friday."),
            ],
        )
        .await;
    let path = location(&res).to_owned();

    // Bob has the article open: his page follows its channel.
    let article = bob.get(&path).await.text().await.unwrap();
    let channel = attribute(&article, "data-channel").unwrap();
    let mut bobs_page = Listener::follow(&bob, &channel).await;

    // The article's Delete is a link to the confirmation, not a form that deletes at once.
    let confirm_path = format!("{path}/delete");
    assert!(
        article.contains(&format!("href=\"{confirm_path}\"")),
        "{article}"
    );
    assert!(
        !article.contains(&format!("action=\"{confirm_path}\"")),
        "{article}"
    );

    let visitor = Browser::new(&running);
    let res = visitor.get(&confirm_path).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/signin?next={confirm_path}"));

    // Alice opens the confirmation: it asks, on the article's channel like the other article
    // pages, and Bob hears that she is about to delete it.
    let res = alice.get(&confirm_path).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<h1>Delete “Harbour bridge shut for repairs”?</h1>"),
        "{page}"
    );
    assert!(page.contains("This cannot be undone."), "{page}");
    assert!(
        page.contains(&format!("action=\"{confirm_path}\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"{path}\">Cancel</a>")),
        "{page}"
    );
    assert_eq!(attribute(&page, "data-channel").as_deref(), Some(&*channel));
    assert!(page.contains("data-pusherable-channel"), "{page}");
    let alices_token = field(&page, "csrf").unwrap();
    assert_eq!(alices_token, csrf);

    let heard = bobs_page.next().await;
    assert_eq!(heard.event, "delete", "{heard:?}");
    assert_eq!(heard.data["user"]["name"], "Alice Martin");
    assert_eq!(
        heard.data["object"]["title"],
        "Harbour bridge shut for repairs"
    );
    assert_eq!(
        format!("/articles/{}", heard.data["object"]["id"]),
        path,
        "{heard:?}"
    );

    // Unknown articles and forms without Alice's token: refused, and nothing is sent.
    for unknown in [
        "/articles/999/delete",
        "/articles/abc/delete",
        "/articles/0/delete",
    ] {
        let res = alice.get(unknown).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{unknown}");
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("<h1>Page not found</h1>"));
    }
    let bobs_token = bob.csrf("/").await;
    for token in ["", "forged", bobs_token.as_str()] {
        let res = alice.post(&confirm_path, &[("csrf", token)]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "token {token:?}");
        assert!(res.text().await.unwrap().contains("This form has expired"));
    }
    let res = alice.post(&confirm_path, &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no token at all");
    let res = alice
        .post("/articles/999/delete", &[("csrf", &alices_token)])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        alice.get(&path).await.status(),
        StatusCode::OK,
        "still there"
    );

    // Alice confirms: the article goes, she lands on the list, Bob hears it is deleted.
    let res = alice.post(&confirm_path, &[("csrf", &alices_token)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    for gone in [path.clone(), confirm_path.clone()] {
        assert_eq!(
            alice.get(&gone).await.status(),
            StatusCode::NOT_FOUND,
            "{gone}"
        );
    }
    let res = alice.post(&confirm_path, &[("csrf", &alices_token)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "a second delete");

    // Stopping sends what was queued, then closes Bob's socket: all he heard after the
    // confirmation is the one delete that succeeded.
    let (stopped, rest) = tokio::join!(running.stop(), bobs_page.rest());
    stopped.unwrap();
    let events: Vec<&str> = rest.iter().map(|h| h.event.as_str()).collect();
    assert_eq!(events, ["deleted"], "{rest:?}");
    assert_eq!(rest[0].data["user"]["name"], "Alice Martin");
    assert_eq!(
        rest[0].data["object"]["title"],
        "Harbour bridge shut for repairs"
    );
}
