//! The template helpers for Tera (feature `tera`).

use std::collections::HashMap;

use pusherable_protocol::{limits::CHANNEL_NAME_MAX, ChannelName};
use tera::{Error, Function, Tera, Value};

use crate::{
    access::Access,
    page::{presence_tag, subscribe_tag, Events},
    realtime::Realtime,
};

impl<A: Access> Realtime<A> {
    /// Adds the template helpers to a Tera instance (feature `tera`). They are the minijinja
    /// ones ([`Realtime::add_to_minijinja`]) with Tera's named arguments:
    ///
    /// - `pusherable_script()`;
    /// - `pusherable_subscribe(event="update", object=article)`, where `event` is a name, a
    ///   list of names or `"*"`;
    /// - `pusherable_presence(object=article)`.
    ///
    /// Their output is marked safe, so auto-escaping leaves it intact; every value in it is
    /// escaped.
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
    /// let mut tera = tera::Tera::default();
    /// realtime.add_to_tera(&mut tera);
    /// tera.add_raw_template("article.html", r#"{{ pusherable_script() }}
    /// <h1>{{ article.title }}</h1>
    /// {{ pusherable_subscribe(event=["update", "deleted"], object=article) }}"#)?;
    ///
    /// let article = Article { id: 42, title: "Hello".into() };
    /// let mut context = tera::Context::new();
    /// context.insert("article", &Live(&article));
    /// let html = tera.render("article.html", &context)?;
    /// assert!(html.contains(r#"data-pusherable-channel="private-article-42""#));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// # }
    /// ```
    pub fn add_to_tera(&self, tera: &mut Tera) {
        tera.register_function("pusherable_script", Script(self.script_tag().into_string()));
        tera.register_function("pusherable_subscribe", Subscribe);
        tera.register_function("pusherable_presence", Presence);
    }
}

struct Script(String);

impl Function for Script {
    fn call(&self, _: &HashMap<String, Value>) -> tera::Result<Value> {
        Ok(Value::String(self.0.clone()))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

struct Subscribe;

impl Function for Subscribe {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let events = match args.get("event") {
            Some(Value::String(one)) => Events::from(one.as_str()),
            Some(Value::Array(list)) => {
                let mut names = Vec::with_capacity(list.len());
                for event in list {
                    match event.as_str() {
                        Some(name) => names.push(name.to_owned()),
                        None => return Err(Error::msg("each event name must be a string")),
                    }
                }
                Events::from(names)
            }
            _ => {
                return Err(Error::msg(
                    "pusherable_subscribe needs event= a name, a list of names or \"*\"",
                ))
            }
        };
        Ok(Value::String(
            channel_of(args)?
                .map(|channel| subscribe_tag(&events, &channel).into_string())
                .unwrap_or_default(),
        ))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

struct Presence;

impl Function for Presence {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        Ok(Value::String(
            channel_of(args)?
                .map(|channel| presence_tag(&channel).into_string())
                .unwrap_or_default(),
        ))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// The channel of `object=`: a `Live` object or a channel name; `None` for a `Live` object
/// without one.
fn channel_of(args: &HashMap<String, Value>) -> tera::Result<Option<String>> {
    let name =
        match args.get("object") {
            Some(Value::String(name)) => name.clone(),
            Some(Value::Object(map)) => match map.get("pusherable_channel") {
                Some(Value::String(name)) => name.clone(),
                Some(Value::Null) => return Ok(None),
                _ => return Err(Error::msg(
                    "this object has no channel: pass pusherable::Live(&object) to the template",
                )),
            },
            _ => {
                return Err(Error::msg(
                    "object= must be a pusherable::Live object or a channel name",
                ))
            }
        };
    ChannelName::parse(&name, CHANNEL_NAME_MAX)
        .map_err(|e| Error::msg(format!("invalid channel {name:?}: {e}")))?;
    Ok(Some(name))
}
