//! A small app on pusherable: articles whose pages show who else has them open, and what
//! they do. The browser tests in `tests/e2e` drive it; it is also a complete example.
//!
//! ```text
//! cargo run -p pusherable --example articles -- 127.0.0.1:3000
//! ```
//!
//! Visit `/as/alice` (or bob, carol…) to sign in, then `/articles/1`, `/articles/1/edit` or
//! `/articles/1/delete` in two browsers. Everyone may see every article except carol, who may
//! see none. Each page also signs in and lists which of the team (alice, bob, carol, dave) are
//! online. `?custom=1` makes the page handle events with its own `pusherable_notify`
//! instead of the default notice. With `PUSHER_JS=/path/to/pusher.min.js` in the environment,
//! pages use the official pusher-js (served by this app) instead of pusherable.js's client.
//! With `ARTICLES_SECRET`, the embedded server's app (id `1`) has that secret instead of a
//! random one, so that its REST API (`/apps/1/channels`…) can be asked what it knows.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{Path, Query, State},
    http::{header, request::Parts, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use minijinja::{context, Environment};
use pusherable::{
    server::{AppConfig, Config, Server},
    Access, Backend, Live, Notify, ObjectChannel, Profile, Pusherable, Realtime, IN_PROCESS_KEY,
};

/// A newsroom article; the channel is `presence-article-{id}`, so pages also see each other.
#[derive(serde::Serialize, Pusherable)]
#[pusherable(presence)]
struct Article {
    id: u64,
    title: String,
    #[pusherable(secret)]
    notes: String,
}

fn load(id: u64) -> Article {
    Article {
        id,
        title: format!("Story {id}"),
        notes: "sources: do not share".into(),
    }
}

/// The users who follow each other's comings and goings.
const TEAM: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// Users sign in with a `user` cookie; carol may see no article.
struct Users;

impl Access for Users {
    type User = String;

    async fn user(&self, request: &Parts) -> Option<String> {
        let cookies = request.headers.get(header::COOKIE)?.to_str().ok()?;
        let name = cookies
            .split(';')
            .find_map(|c| c.trim().strip_prefix("user="))?;
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| name.to_owned())
    }

    fn profile(&self, user: &String) -> Profile {
        let mut name = user.clone();
        if let Some(first) = name.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        Profile::new(user).name(name)
    }

    async fn may_see(&self, user: &String, object: &ObjectChannel) -> bool {
        user != "carol" && object.is::<Article>()
    }

    async fn watchlist(&self, user: &String) -> Vec<String> {
        TEAM.iter()
            .filter(|name| *name != user)
            .map(|name| (*name).to_owned())
            .collect()
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ verb }} {{ article.title }}</title>
{{ pusherable_script() }}
<script>
  window.events = [];
  document.addEventListener('pusherable:event', function (e) { window.events.push(e.detail); });
  window.reconnects = [];
  document.addEventListener('pusherable:reconnected', function (e) { window.reconnects.push(e.detail); });
  window.signinErrors = [];
  pusherable.on('pusherable:signin_error', function (e) { window.signinErrors.push(e); });
  // Who of the team is online: the list holds those the server says are.
  pusherable.on('pusherable:watchlist', function () {
    var list = document.getElementById('online');
    list.textContent = '';
    pusherable.watchlist().online.sort().forEach(function (id) {
      var li = document.createElement('li');
      li.setAttribute('data-user-id', id);
      li.textContent = id;
      list.appendChild(li);
    });
  });
  // Anonymous visitors are refused, and see no one.
  pusherable.signin().catch(function () {});
</script>
{% if custom %}
<script>
  // django-pusherable's contract: the page defines pusherable_notify(event, data).
  function pusherable_notify(event, data) {
    var li = document.createElement('li');
    li.textContent = event + ' by ' + data.user;
    document.getElementById('log').appendChild(li);
  }
</script>
{% endif %}
</head>
<body>
<h1>{{ verb }} {{ article.title }}</h1>
<h2>Also here</h2>
{{ pusherable_presence(article) }}
<h2>Online</h2>
<ul id="online" aria-label="Online"></ul>
<ol id="log"></ol>
{{ pusherable_subscribe("*", article) }}
{# A second subscription, on a public channel: it shares the page's one connection. #}
{{ pusherable_subscribe("*", "front-page") }}
</body>
</html>
"#;

#[derive(Clone)]
struct App {
    templates: Arc<Environment<'static>>,
    pusher_js: Option<Arc<str>>,
}

#[derive(serde::Deserialize)]
struct PageQuery {
    custom: Option<String>,
}

fn render(
    app: &App,
    verb: &str,
    article: &Article,
    query: &PageQuery,
) -> Result<Html<String>, StatusCode> {
    app.templates
        .get_template("article.html")
        .and_then(|t| {
            t.render(context! {
                verb,
                article => Live(article),
                custom => query.custom.is_some(),
            })
        })
        .map(Html)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

async fn view(
    State(app): State<App>,
    Path(id): Path<u64>,
    Query(query): Query<PageQuery>,
) -> Result<impl IntoResponse, StatusCode> {
    let article = load(id);
    Ok((
        Notify::view(&article),
        render(&app, "Reading", &article, &query)?,
    ))
}

async fn edit(
    State(app): State<App>,
    Path(id): Path<u64>,
    Query(query): Query<PageQuery>,
) -> Result<impl IntoResponse, StatusCode> {
    let article = load(id);
    Ok((
        Notify::update(&article),
        render(&app, "Editing", &article, &query)?,
    ))
}

async fn confirm_delete(
    State(app): State<App>,
    Path(id): Path<u64>,
    Query(query): Query<PageQuery>,
) -> Result<impl IntoResponse, StatusCode> {
    let article = load(id);
    Ok((
        Notify::delete(&article),
        render(&app, "Deleting", &article, &query)?,
    ))
}

async fn sign_in(Path(name): Path<String>) -> Response {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    (
        [(
            header::SET_COOKIE,
            format!("user={name}; Path=/; SameSite=Lax"),
        )],
        Redirect::to("/articles/1"),
    )
        .into_response()
}

async fn pusher_js(State(app): State<App>) -> Response {
    let Some(path) = app.pusher_js.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/javascript")], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into())
        .parse()?;
    let pusher_js_file: Option<Arc<str>> = std::env::var("PUSHER_JS").ok().map(Into::into);

    let backend = match std::env::var("ARTICLES_SECRET") {
        Ok(secret) => {
            let mut config = Config::default();
            config
                .apps
                .push(AppConfig::new("1", IN_PROCESS_KEY, secret));
            Backend::embedded(Server::new(config)?, "1")?
        }
        Err(_) => Backend::in_process(),
    };
    let mut builder = Realtime::builder(Users).backend(backend);
    if pusher_js_file.is_some() {
        builder = builder.pusher_js("/static/pusher.min.js");
    }
    let realtime = builder.build()?;

    let mut templates = Environment::new();
    templates.add_template("article.html", PAGE)?;
    realtime.add_to_minijinja(&mut templates);
    let app = App {
        templates: Arc::new(templates),
        pusher_js: pusher_js_file,
    };

    let router = Router::new()
        .route("/as/{name}", get(sign_in))
        .route("/articles/{id}", get(view))
        .route("/articles/{id}/edit", get(edit))
        .route("/articles/{id}/delete", get(confirm_delete))
        .route("/static/pusher.min.js", get(pusher_js))
        .with_state(app)
        .merge(realtime.routes())
        .layer(realtime.layer());

    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("articles listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
