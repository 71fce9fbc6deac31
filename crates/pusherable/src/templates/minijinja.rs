//! The template helpers for minijinja (feature `minijinja`).

use minijinja::{value::ValueKind, Environment, Error, ErrorKind, Value};
use pusherable_protocol::{limits::CHANNEL_NAME_MAX, ChannelName};

use crate::{
    access::Access,
    page::{presence_tag, subscribe_tag, Events},
    realtime::Realtime,
};

impl<A: Access> Realtime<A> {
    /// Adds the template helpers to a minijinja environment (feature `minijinja`):
    ///
    /// - `pusherable_script()`: the script tag, once per page (in the layout);
    /// - `pusherable_subscribe(event, object)`: subscribes the page to `object` and hands its
    ///   `event` to `pusherable_notify(event, data)`; `event` is a name, a list of names or
    ///   `"*"` for all;
    /// - `pusherable_presence(object)`: a list of the other users on the object's presence
    ///   channel, kept up to date.
    ///
    /// `object` is a [`Live`](crate::Live) object, or a channel name (an
    /// [`ObjectChannel`](crate::ObjectChannel) put into the context serializes as one). Their
    /// output is marked safe, so auto-escaping leaves it intact; every value in it is escaped.
    /// An object without a channel renders nothing.
    ///
    /// ```
    /// # #[cfg(feature = "embedded")] {
    /// # use pusherable::__doc::NoOne;
    /// use pusherable::{Live, Pusherable};
    ///
    /// #[derive(serde::Serialize, Pusherable)]
    /// struct Article { id: u64, title: String }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let realtime = pusherable::Realtime::embedded(NoOne)?;
    /// let mut env = minijinja::Environment::new();
    /// realtime.add_to_minijinja(&mut env);
    /// env.add_template("article.html", r#"{{ pusherable_script() }}
    /// <h1>{{ article.title }}</h1>
    /// {{ pusherable_subscribe(["update", "deleted"], article) }}"#)?;
    ///
    /// let article = Article { id: 42, title: "Hello".into() };
    /// let html = env.get_template("article.html")?.render(minijinja::context! { article => Live(&article) })?;
    /// assert!(html.contains(r#"data-pusherable-channel="private-article-42""#));
    /// assert!(html.contains("<h1>Hello</h1>"));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// # }
    /// ```
    pub fn add_to_minijinja(&self, env: &mut Environment<'_>) {
        let script = self.script_tag().into_string();
        env.add_function("pusherable_script", move || {
            Value::from_safe_string(script.clone())
        });
        env.add_function("pusherable_subscribe", subscribe);
        env.add_function("pusherable_presence", presence);
    }
}

fn subscribe(events: &Value, object: &Value) -> Result<Value, Error> {
    let events = if let Some(one) = events.as_str() {
        Events::from(one)
    } else if events.kind() == ValueKind::Seq {
        let mut names = Vec::new();
        for event in events.try_iter()? {
            match event.as_str() {
                Some(name) => names.push(name.to_owned()),
                None => return Err(invalid("each event name must be a string")),
            }
        }
        Events::from(names)
    } else {
        return Err(invalid("event must be a name, a list of names or \"*\""));
    };
    Ok(match channel_of(object)? {
        Some(channel) => Value::from_safe_string(subscribe_tag(&events, &channel).into_string()),
        None => Value::from_safe_string(String::new()),
    })
}

fn presence(object: &Value) -> Result<Value, Error> {
    Ok(match channel_of(object)? {
        Some(channel) => Value::from_safe_string(presence_tag(&channel).into_string()),
        None => Value::from_safe_string(String::new()),
    })
}

/// The channel of a `Live` object or a channel name; `None` for a `Live` object without one.
fn channel_of(object: &Value) -> Result<Option<String>, Error> {
    let name = if let Some(name) = object.as_str() {
        name.to_owned()
    } else if object.kind() == ValueKind::Map {
        let channel = object.get_attr("pusherable_channel")?;
        if channel.is_undefined() {
            return Err(invalid(
                "this object has no channel: pass pusherable::Live(&object) to the template",
            ));
        }
        match channel.as_str() {
            Some(name) => name.to_owned(),
            None => return Ok(None),
        }
    } else {
        return Err(invalid(
            "expected a pusherable::Live object or a channel name",
        ));
    };
    ChannelName::parse(&name, CHANNEL_NAME_MAX)
        .map_err(|e| invalid(&format!("invalid channel {name:?}: {e}")))?;
    Ok(Some(name))
}

fn invalid(why: &str) -> Error {
    Error::new(ErrorKind::InvalidOperation, why.to_owned())
}
