//! What pages receive: the script tag with its settings, and the elements that subscribe a page
//! to an object. Every value is HTML-escaped here, so template engines output these as they are.

use std::fmt::Write as _;

use serde::Serialize;

/// HTML made by pusherable, with every value in it escaped: templates output it as it is.
///
/// It displays as its HTML, derefs to `&str`, and (feature `askama`) is marked safe for
/// askama, so `{{ script }}` needs no `|safe`.
///
/// ```
/// let tag = pusherable::presence_tag("presence-article-1");
/// assert!(tag.starts_with("<ul "));
/// let html: String = tag.into_string();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Markup(String);

impl Markup {
    /// The HTML as a `String`.
    ///
    /// ```
    /// let html = pusherable::presence_tag("presence-a-1").into_string();
    /// assert!(html.ends_with("</ul>"));
    /// ```
    pub fn into_string(self) -> String {
        self.0
    }

    /// The HTML.
    ///
    /// ```
    /// assert!(pusherable::presence_tag("presence-a-1").as_str().contains("presence-a-1"));
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Markup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for Markup {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Markup {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Markup> for String {
    fn from(markup: Markup) -> String {
        markup.0
    }
}

impl PartialEq<&str> for Markup {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<str> for Markup {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(feature = "askama")]
impl askama::filters::HtmlSafe for Markup {}

/// Where pages open their WebSocket.
///
/// The default for the embedded server is the page's own origin (host, port and `https`
/// → `wss`), which is right as long as the server is mounted in the same router; for the REST
/// backend it is derived from the API endpoint (`api-eu.pusher.com` → `ws-eu.pusher.com`).
///
/// ```
/// use pusherable::Websocket;
/// let ws = Websocket::host("realtime.example.com").port(443).tls(true);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Websocket {
    host: Option<String>,
    port: Option<u16>,
    tls: Option<bool>,
    path: String,
}

impl Websocket {
    /// The page's own host, port and scheme.
    ///
    /// ```
    /// let ws = pusherable::Websocket::same_origin();
    /// ```
    pub fn same_origin() -> Self {
        Self::default()
    }

    /// A given host; the port and TLS follow the page unless set.
    ///
    /// ```
    /// let ws = pusherable::Websocket::host("127.0.0.1").port(6001).tls(false);
    /// ```
    pub fn host(host: impl Into<String>) -> Self {
        Websocket {
            host: Some(host.into()),
            ..Self::default()
        }
    }

    /// The port.
    ///
    /// ```
    /// let ws = pusherable::Websocket::same_origin().port(6001);
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// `wss://` (true) or `ws://` (false) whatever the page's scheme.
    ///
    /// ```
    /// let ws = pusherable::Websocket::host("example.com").tls(true);
    /// ```
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = Some(tls);
        self
    }

    /// A path before `/app/{key}`, where the server's routes are mounted (pusher-js's `wsPath`).
    ///
    /// ```
    /// let ws = pusherable::Websocket::same_origin().path("/realtime");
    /// ```
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.trim_end_matches('/').to_owned();
        self
    }

    #[cfg(feature = "rest")]
    pub(crate) fn for_rest_endpoint(endpoint: &pusherable_client::Url) -> Self {
        let host = endpoint.host_str().unwrap_or_default();
        let host = if host == "api.pusherapp.com" {
            "ws-mt1.pusher.com".to_owned()
        } else if let Some(cluster) = host
            .strip_prefix("api-")
            .and_then(|h| h.strip_suffix(".pusher.com"))
        {
            format!("ws-{cluster}.pusher.com")
        } else {
            host.to_owned()
        };
        let path = endpoint
            .path()
            .rsplit_once("/apps/")
            .map_or("", |(prefix, _)| prefix);
        let mut ws = Websocket::host(host)
            .tls(endpoint.scheme() == "https")
            .path(path);
        ws.port = endpoint.port();
        ws
    }
}

/// Which browser client the page runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientScript {
    /// pusherable.js's own protocol client.
    Own,
    /// The official pusher-js, loaded from this URL before pusherable.js.
    PusherJs(String),
}

/// Everything the script tag tells pusherable.js.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) key: String,
    pub(crate) websocket: Websocket,
    pub(crate) script_src: String,
    pub(crate) auth_endpoint: String,
    pub(crate) user_auth_endpoint: String,
    pub(crate) client: ClientScript,
}

impl Page {
    /// `<script src=… data-…>`: the one tag that loads pusherable.js with its settings.
    pub(crate) fn script_tag(&self) -> Markup {
        let mut out = String::with_capacity(512);
        if let ClientScript::PusherJs(src) = &self.client {
            let _ = write!(out, "<script src=\"{}\"></script>", escape(src));
        }
        let ws = &self.websocket;
        let _ = write!(
            out,
            "<script src=\"{}\" data-pusherable data-key=\"{}\" data-host=\"{}\" data-port=\"{}\" data-tls=\"{}\" data-path=\"{}\" data-auth-endpoint=\"{}\" data-user-auth-endpoint=\"{}\" data-client=\"{}\"></script>",
            escape(&self.script_src),
            escape(&self.key),
            escape(ws.host.as_deref().unwrap_or("")),
            ws.port.map(|p| p.to_string()).unwrap_or_default(),
            match ws.tls {
                Some(true) => "true",
                Some(false) => "false",
                None => "",
            },
            escape(&ws.path),
            escape(&self.auth_endpoint),
            escape(&self.user_auth_endpoint),
            match self.client {
                ClientScript::Own => "pusherable",
                ClientScript::PusherJs(_) => "pusher-js",
            },
        );
        Markup(out)
    }
}

/// Which events of a channel a page hands to `pusherable_notify`.
///
/// ```
/// use pusherable::Events;
/// let one = Events::from("update");
/// let some = Events::from(["updated", "deleted"]);
/// let all = Events::All;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Events {
    /// Every event of the channel (written `"*"` in templates).
    All,
    /// These events only.
    Only(Vec<String>),
}

impl From<&str> for Events {
    fn from(event: &str) -> Self {
        if event == "*" {
            Events::All
        } else {
            Events::Only(vec![event.to_owned()])
        }
    }
}

impl<const N: usize> From<[&str; N]> for Events {
    fn from(events: [&str; N]) -> Self {
        Events::Only(events.iter().map(|e| (*e).to_owned()).collect())
    }
}

impl From<Vec<String>> for Events {
    fn from(events: Vec<String>) -> Self {
        if events.iter().any(|e| e == "*") {
            Events::All
        } else {
            Events::Only(events)
        }
    }
}

/// The element that subscribes the page to `channel` and hands `events` to
/// `pusherable_notify`. It renders nothing; pusherable.js finds it, also when it is added later.
///
/// `channel` is a channel name or an [`ObjectChannel`](crate::ObjectChannel); the template
/// helpers call this.
///
/// ```
/// use pusherable::{subscribe_tag, Events};
/// assert_eq!(
///     subscribe_tag(&Events::from("update"), "private-article-1"),
///     r#"<template data-pusherable-channel="private-article-1" data-pusherable-events="[&quot;update&quot;]"></template>"#
/// );
/// ```
pub fn subscribe_tag(events: &Events, channel: impl AsRef<str>) -> Markup {
    let events = match events {
        Events::All => "*".to_owned(),
        Events::Only(list) => serde_json::to_string(list).unwrap_or_else(|_| "[]".into()),
    };
    Markup(format!(
        "<template data-pusherable-channel=\"{}\" data-pusherable-events=\"{}\"></template>",
        escape(channel.as_ref()),
        escape(&events),
    ))
}

/// A list that pusherable.js keeps filled with the other users on a presence channel
/// ("who else is here"), one `<li>` per user with their profile's name. `channel` is a
/// channel name or an [`ObjectChannel`](crate::ObjectChannel).
///
/// ```
/// assert_eq!(
///     pusherable::presence_tag("presence-article-1"),
///     r#"<ul class="pusherable-members" data-pusherable-members="presence-article-1" aria-live="polite" aria-label="Also here"></ul>"#
/// );
/// ```
pub fn presence_tag(channel: impl AsRef<str>) -> Markup {
    Markup(format!(
        "<ul class=\"pusherable-members\" data-pusherable-members=\"{}\" aria-live=\"polite\" aria-label=\"Also here\"></ul>",
        escape(channel.as_ref())
    ))
}

/// An object together with its channel, for template engines that take serde values: it
/// serializes as the object's own fields plus `pusherable_channel`, so a template can both
/// show `article.title` and subscribe with `pusherable_subscribe("update", article)`.
///
/// ```
/// use pusherable::{Live, Pusherable};
///
/// #[derive(serde::Serialize, Pusherable)]
/// struct Article { id: u64, title: String }
///
/// let article = Article { id: 1, title: "Hi".into() };
/// assert_eq!(
///     serde_json::to_value(Live(&article))?,
///     serde_json::json!({"id": 1, "title": "Hi", "pusherable_channel": "private-article-1"})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Live<'a, T: ?Sized>(pub &'a T);

impl<T> Serialize for Live<'_, T>
where
    T: Serialize + crate::Pusherable + ?Sized,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct WithChannel<'a, T: ?Sized> {
            #[serde(flatten)]
            object: &'a T,
            /// `None` (and the subscribe helper renders nothing) when the key makes no valid
            /// channel: a page never fails because of real-time.
            pusherable_channel: Option<String>,
        }
        let pusherable_channel = match self.0.pusherable_channel() {
            Ok(c) => Some(c.name().to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "object rendered without a channel");
                None
            }
        };
        WithChannel {
            object: self.0,
            pusherable_channel,
        }
        .serialize(serializer)
    }
}

/// HTML-escapes text for element content and double- or single-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_escaped() {
        let tag = subscribe_tag(&Events::from("a\"<b>'&"), "x");
        assert!(
            tag.contains("[&quot;a\\&quot;&lt;b&gt;&#39;&amp;&quot;]"),
            "{tag}"
        );
        let page = Page {
            key: "k\"".into(),
            websocket: Websocket::host("h<").port(1).tls(true).path("/p/"),
            script_src: "/s.js?a=1&b=2".into(),
            auth_endpoint: "/a".into(),
            user_auth_endpoint: "/u".into(),
            client: ClientScript::PusherJs("/pusher.js".into()),
        };
        let html = page.script_tag();
        assert!(
            html.starts_with(
                "<script src=\"/pusher.js\"></script><script src=\"/s.js?a=1&amp;b=2\""
            ),
            "{html}"
        );
        for part in [
            "data-key=\"k&quot;\"",
            "data-host=\"h&lt;\"",
            "data-port=\"1\"",
            "data-tls=\"true\"",
            "data-path=\"/p\"",
            "data-client=\"pusher-js\"",
        ] {
            assert!(html.contains(part), "{part} in {html}");
        }
    }

    #[test]
    fn every_event_is_a_star() {
        assert_eq!(Events::from("*"), Events::All);
        assert_eq!(
            Events::from(vec!["a".to_owned(), "*".to_owned()]),
            Events::All
        );
        assert!(subscribe_tag(&Events::All, "c").contains("data-pusherable-events=\"*\""));
    }
}
