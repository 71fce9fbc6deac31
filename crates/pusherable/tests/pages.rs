//! What pages receive: the script, the script tag and the template helpers.
#![allow(clippy::unwrap_used)]

mod common;

use common::{app, serve, Article, Users};
use minijinja::{context, Environment};
use pusherable::{Live, Pusherable, Realtime, Websocket};

#[tokio::test]
async fn the_script_is_served_from_the_binary_with_caching() {
    let realtime = Realtime::embedded(Users).unwrap();
    let addr = serve(app(&realtime)).await;
    let tag = realtime.script_tag();
    let src = tag
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(src.starts_with("/pusherable/pusherable.js?v="), "{tag}");

    let http = common::http();
    let res = http
        .get(format!("http://{addr}{src}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = res.headers()["etag"].clone();
    let body = res.text().await.unwrap();
    assert!(body.contains("pusherable_notify"));

    let res = http
        .get(format!("http://{addr}/pusherable/pusherable.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn the_script_tag_carries_every_setting() {
    let realtime = Realtime::embedded(Users).unwrap();
    let tag = realtime.script_tag();
    let key = realtime.backend().key();
    for part in [
        format!("data-key=\"{key}\""),
        "data-host=\"\" data-port=\"\" data-tls=\"\" data-path=\"\"".to_owned(),
        "data-auth-endpoint=\"/pusherable/auth\"".to_owned(),
        "data-user-auth-endpoint=\"/pusherable/user-auth\"".to_owned(),
        "data-client=\"pusherable\"".to_owned(),
    ] {
        assert!(tag.contains(&part), "{part} in {tag}");
    }

    let realtime = Realtime::builder(Users)
        .backend(pusherable::Backend::in_process())
        .path("/live/")
        .websocket(
            Websocket::host("ws.example.com")
                .port(443)
                .tls(true)
                .path("/rt"),
        )
        .pusher_js("/static/pusher.min.js")
        .build()
        .unwrap();
    let tag = realtime.script_tag();
    assert!(
        tag.starts_with(
            "<script src=\"/static/pusher.min.js\"></script><script src=\"/live/pusherable.js?v="
        ),
        "{tag}"
    );
    for part in [
        "data-host=\"ws.example.com\" data-port=\"443\" data-tls=\"true\" data-path=\"/rt\"",
        "data-auth-endpoint=\"/live/auth\"",
        "data-client=\"pusher-js\"",
    ] {
        assert!(tag.contains(part), "{part} in {tag}");
    }

    for bad in ["", "/", "live", "/a b", "/a//b"] {
        let err = Realtime::builder(Users)
            .backend(pusherable::Backend::in_process())
            .path(bad)
            .build()
            .unwrap_err();
        assert!(matches!(err, pusherable::BuildError::Path(_)), "{bad:?}");
    }
}

#[tokio::test]
async fn minijinja_helpers_survive_auto_escaping() {
    let realtime = Realtime::embedded(Users).unwrap();
    let mut env = Environment::new();
    realtime.add_to_minijinja(&mut env);
    env.add_template(
        "page.html",
        r#"<head>{{ pusherable_script() }}</head>
<h1>{{ article.title }}</h1>
{{ pusherable_subscribe("update", article) }}
{{ pusherable_subscribe(["updated", "deleted"], channel) }}
{{ pusherable_subscribe("*", article) }}
{{ pusherable_presence(room) }}"#,
    )
    .unwrap();
    let mut article = Article::new(42);
    article.title = "<b>Tom & Jerry</b>".into();
    let room = common::Room { id: "r1".into() };
    let html = env
        .get_template("page.html")
        .unwrap()
        .render(context! {
            article => Live(&article),
            channel => article.pusherable_channel().unwrap(),
            room => Live(&room),
        })
        .unwrap();
    assert!(html.contains(realtime.script_tag().as_str()), "{html}");
    assert!(
        html.contains("<h1>&lt;b&gt;Tom &amp; Jerry&lt;&#x2f;b&gt;</h1>"),
        "{html}"
    );
    assert!(html.contains(r#"<template data-pusherable-channel="private-article-42" data-pusherable-events="[&quot;update&quot;]"></template>"#), "{html}");
    assert!(
        html.contains(r#"data-pusherable-events="[&quot;updated&quot;,&quot;deleted&quot;]""#),
        "{html}"
    );
    assert!(html.contains(r#"data-pusherable-events="*""#), "{html}");
    assert!(
        html.contains(
            r#"<ul class="pusherable-members" data-pusherable-members="presence-desk.room-r1""#
        ),
        "{html}"
    );
    // The secret field is in the template's object (the app passed it), never in events.
    assert!(!html.contains("do not leak"));
}

#[tokio::test]
async fn minijinja_helpers_refuse_what_is_not_an_object() {
    let realtime = Realtime::embedded(Users).unwrap();
    let mut env = Environment::new();
    realtime.add_to_minijinja(&mut env);
    for (source, ctx) in [
        (
            r#"{{ pusherable_subscribe("update", plain) }}"#,
            context! { plain => context! { id => 1 } },
        ),
        (r#"{{ pusherable_subscribe("update", 42) }}"#, context! {}),
        (
            r#"{{ pusherable_subscribe(1, "private-article-1") }}"#,
            context! {},
        ),
        (
            r#"{{ pusherable_subscribe("update", "bad name") }}"#,
            context! {},
        ),
    ] {
        let err = env.render_str(source, ctx).unwrap_err();
        assert_eq!(
            err.kind(),
            minijinja::ErrorKind::InvalidOperation,
            "{source}: {err}"
        );
    }
    // An object whose key makes no channel renders nothing, and the page still renders.
    let broken = common::Broken { id: "a b".into() };
    let html = env
        .render_str(
            r#"[{{ pusherable_subscribe("update", o) }}]"#,
            context! { o => Live(&broken) },
        )
        .unwrap();
    assert_eq!(html, "[]");
}

#[tokio::test]
async fn tera_helpers_survive_auto_escaping() {
    let realtime = Realtime::embedded(Users).unwrap();
    let mut tera = tera::Tera::default();
    realtime.add_to_tera(&mut tera);
    tera.add_raw_template(
        "page.html",
        r#"<head>{{ pusherable_script() }}</head>
<h1>{{ article.title }}</h1>
{{ pusherable_subscribe(event="update", object=article) }}
{{ pusherable_subscribe(event=["updated", "deleted"], object=channel) }}
{{ pusherable_presence(object=room) }}"#,
    )
    .unwrap();
    let mut article = Article::new(42);
    article.title = "<b>Tom & Jerry</b>".into();
    let mut context = tera::Context::new();
    context.insert("article", &Live(&article));
    context.insert("channel", &article.pusherable_channel().unwrap());
    context.insert("room", &Live(&common::Room { id: "r1".into() }));
    let html = tera.render("page.html", &context).unwrap();
    assert!(html.contains(realtime.script_tag().as_str()), "{html}");
    assert!(
        html.contains("<h1>&lt;b&gt;Tom &amp; Jerry&lt;&#x2F;b&gt;</h1>"),
        "{html}"
    );
    assert!(html.contains(r#"<template data-pusherable-channel="private-article-42" data-pusherable-events="[&quot;update&quot;]"></template>"#), "{html}");
    assert!(
        html.contains(r#"data-pusherable-events="[&quot;updated&quot;,&quot;deleted&quot;]""#),
        "{html}"
    );
    assert!(
        html.contains(r#"data-pusherable-members="presence-desk.room-r1""#),
        "{html}"
    );

    tera.add_raw_template(
        "bad.html",
        r#"{{ pusherable_subscribe(event="update", object=42) }}"#,
    )
    .unwrap();
    assert!(tera.render("bad.html", &tera::Context::new()).is_err());
}

#[tokio::test]
async fn askama_outputs_markup_unescaped() {
    use askama::Template;

    #[derive(Template)]
    #[template(
        source = "<head>{{ script }}</head><h1>{{ title }}</h1>{{ subscribe }}{{ presence }}",
        ext = "html"
    )]
    struct Page {
        script: pusherable::Markup,
        title: String,
        subscribe: pusherable::Markup,
        presence: pusherable::Markup,
    }

    let realtime = Realtime::embedded(Users).unwrap();
    let article = Article::new(42);
    let channel = article.pusherable_channel().unwrap();
    let page = Page {
        script: realtime.script_tag(),
        title: "<b>Tom & Jerry</b>".into(),
        subscribe: pusherable::subscribe_tag(&pusherable::Events::from("update"), &channel),
        presence: pusherable::presence_tag(&channel),
    };
    let html = page.render().unwrap();
    assert!(
        html.starts_with(&format!("<head>{}</head>", realtime.script_tag())),
        "{html}"
    );
    assert!(
        html.contains("<h1>&#60;b&#62;Tom &#38; Jerry&#60;/b&#62;</h1>"),
        "{html}"
    );
    assert!(html.contains(r#"<template data-pusherable-channel="private-article-42" data-pusherable-events="[&quot;update&quot;]"></template>"#), "{html}");
    assert!(
        html.contains(
            r#"<ul class="pusherable-members" data-pusherable-members="private-article-42""#
        ),
        "{html}"
    );
}
