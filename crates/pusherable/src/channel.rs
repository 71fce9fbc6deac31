//! The channel of one object: `{kind prefix}{namespace.}{model}-{key}`.
//!
//! Model names and namespaces are ASCII letters, digits and `_`, so the first `-` after the
//! prefix always ends the model and the first `.` before it ends the namespace: every object
//! channel reads back into exactly one (kind, namespace, model, key), which is what the
//! authorization endpoint relies on to ask the app about the right object.

use std::fmt;

use pusherable_protocol::{limits::CHANNEL_NAME_MAX, ChannelKind, ChannelName, ChannelNameError};

use crate::model::{Kind, Pusherable};

/// Model names that would give a channel another meaning (`private-1`, `cache-1`).
const RESERVED_MODELS: [&str; 3] = ["private", "presence", "cache"];

/// The channel of one object, such as `private-article-42`.
///
/// Made from a model with [`Pusherable::pusherable_channel`], or read back from a channel name
/// with [`ObjectChannel::parse`], as the authorization endpoint does before it calls
/// [`Access::may_see`](crate::Access::may_see).
///
/// ```
/// use pusherable::{Kind, ObjectChannel};
/// let channel = ObjectChannel::parse("presence-blog.article-42")?;
/// assert_eq!(channel.kind(), Kind::Presence);
/// assert_eq!(channel.namespace(), Some("blog"));
/// assert_eq!(channel.model(), "article");
/// assert_eq!(channel.key(), "42");
/// # Ok::<(), pusherable::ChannelError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ObjectChannel {
    name: ChannelName,
    kind: Kind,
    namespace: Option<String>,
    model: String,
    key: String,
}

/// Why an object has no valid channel, or a channel name is not an object's.
///
/// ```
/// use pusherable::{ChannelError, Kind, ObjectChannel};
/// let err = ObjectChannel::new(Kind::Private, None, "article", "has space").unwrap_err();
/// assert!(matches!(err, ChannelError::Key(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The model name is empty, has a character other than ASCII letters, digits and `_`, or
    /// is one of `private`, `presence` and `cache`.
    #[error("model name {0:?} must be ASCII letters, digits and `_`, and not private, presence or cache")]
    Model(String),
    /// The namespace is empty or has a character other than ASCII letters, digits and `_`.
    #[error("namespace {0:?} must be ASCII letters, digits and `_`")]
    Namespace(String),
    /// The key is empty or has a character channel names do not allow.
    #[error("key {0:?} must be made of letters, digits and _ - = @ , . ;")]
    Key(String),
    /// The whole name breaks a channel-name rule (most often: longer than 164 characters).
    #[error(transparent)]
    Name(#[from] ChannelNameError),
    /// The name is a valid channel, but not of the `{model}-{key}` shape of an object.
    #[error("{0:?} is not an object's channel")]
    NotAnObject(String),
}

fn valid_part(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl ObjectChannel {
    /// The channel of the object `key` of `model`.
    ///
    /// ```
    /// use pusherable::{Kind, ObjectChannel};
    /// let c = ObjectChannel::new(Kind::Public, None, "article", "42")?;
    /// assert_eq!(c.name(), "article-42");
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn new(
        kind: Kind,
        namespace: Option<&str>,
        model: &str,
        key: &str,
    ) -> Result<Self, ChannelError> {
        if !valid_part(model) || RESERVED_MODELS.contains(&model) {
            return Err(ChannelError::Model(model.to_owned()));
        }
        if let Some(ns) = namespace {
            if !valid_part(ns) {
                return Err(ChannelError::Namespace(ns.to_owned()));
            }
        }
        if key.is_empty() || pusherable_protocol::channel::validate(key, usize::MAX).is_err() {
            return Err(ChannelError::Key(key.to_owned()));
        }
        let mut name = String::with_capacity(32 + key.len());
        name.push_str(kind.prefix());
        if let Some(ns) = namespace {
            name.push_str(ns);
            name.push('.');
        }
        name.push_str(model);
        name.push('-');
        name.push_str(key);
        let name = ChannelName::parse(&name, CHANNEL_NAME_MAX)?;
        Ok(ObjectChannel {
            name,
            kind,
            namespace: namespace.map(str::to_owned),
            model: model.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The channel of `object`; the same as [`Pusherable::pusherable_channel`].
    ///
    /// ```
    /// #[derive(pusherable::Pusherable)]
    /// struct Article { id: u32 }
    /// let c = pusherable::ObjectChannel::of(&Article { id: 1 })?;
    /// assert_eq!(c.name(), "private-article-1");
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn of<T: Pusherable + ?Sized>(object: &T) -> Result<Self, ChannelError> {
        object.pusherable_channel()
    }

    /// Reads a channel name back into kind, namespace, model and key.
    ///
    /// ```
    /// use pusherable::ObjectChannel;
    /// assert_eq!(ObjectChannel::parse("private-article-a-b")?.key(), "a-b");
    /// assert!(ObjectChannel::parse("private-encrypted-x").is_err());
    /// assert!(ObjectChannel::parse("private-nokey").is_err());
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn parse(name: &str) -> Result<Self, ChannelError> {
        let not_object = || ChannelError::NotAnObject(name.to_owned());
        let parsed = ChannelName::parse(name, CHANNEL_NAME_MAX)?;
        let (kind, rest) = match parsed.kind() {
            ChannelKind::Private => (Kind::Private, &name["private-".len()..]),
            ChannelKind::Presence => (Kind::Presence, &name["presence-".len()..]),
            ChannelKind::Public => (Kind::Public, name),
            ChannelKind::PrivateEncrypted | ChannelKind::ServerToUser => return Err(not_object()),
        };
        let (head, key) = rest.split_once('-').ok_or_else(not_object)?;
        let (namespace, model) = match head.split_once('.') {
            Some((ns, model)) => (Some(ns), model),
            None => (None, head),
        };
        match Self::new(kind, namespace, model, key) {
            Ok(channel) if channel.name.as_str() == name => Ok(channel),
            _ => Err(not_object()),
        }
    }

    /// The full channel name.
    ///
    /// ```
    /// # let c = pusherable::ObjectChannel::parse("private-article-1")?;
    /// assert_eq!(c.name(), "private-article-1");
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Private, presence or public.
    ///
    /// ```
    /// # let c = pusherable::ObjectChannel::parse("article-1")?;
    /// assert_eq!(c.kind(), pusherable::Kind::Public);
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The namespace, if the model has one.
    ///
    /// ```
    /// # let c = pusherable::ObjectChannel::parse("private-article-1")?;
    /// assert_eq!(c.namespace(), None);
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The model name.
    ///
    /// ```
    /// # let c = pusherable::ObjectChannel::parse("private-article-1")?;
    /// assert_eq!(c.model(), "article");
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The object's key, as text.
    ///
    /// ```
    /// # let c = pusherable::ObjectChannel::parse("private-article-1")?;
    /// assert_eq!(c.key(), "1");
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// True if this is a channel of model `T` (same model name, namespace and kind).
    ///
    /// ```
    /// #[derive(pusherable::Pusherable)]
    /// struct Article { id: u32 }
    /// let c = pusherable::ObjectChannel::parse("private-article-1")?;
    /// assert!(c.is::<Article>());
    /// assert!(!pusherable::ObjectChannel::parse("presence-article-1")?.is::<Article>());
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn is<T: Pusherable + ?Sized>(&self) -> bool {
        self.model == T::MODEL && self.namespace.as_deref() == T::NAMESPACE && self.kind == T::KIND
    }

    /// The key, parsed, if this is a channel of model `T` and the key parses as `K`.
    ///
    /// This is the usual first line of an [`Access::may_see`](crate::Access::may_see):
    ///
    /// ```
    /// #[derive(pusherable::Pusherable)]
    /// struct Article { id: u32 }
    /// let c = pusherable::ObjectChannel::parse("private-article-42")?;
    /// assert_eq!(c.key_of::<Article, u32>(), Some(42));
    /// assert_eq!(c.key_of::<Article, bool>(), None);
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    pub fn key_of<T: Pusherable + ?Sized, K: std::str::FromStr>(&self) -> Option<K> {
        if self.is::<T>() {
            self.key.parse().ok()
        } else {
            None
        }
    }
}

impl fmt::Display for ObjectChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for ObjectChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectChannel({})", self.name())
    }
}

impl AsRef<str> for ObjectChannel {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

/// Serializes as the channel name, so it can go into a template context as is.
impl serde::Serialize for ObjectChannel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expected: Option<(Kind, Option<&str>, &str, &str)>) {
        let got = ObjectChannel::parse(name).ok();
        let got = got
            .as_ref()
            .map(|c| (c.kind(), c.namespace(), c.model(), c.key()));
        assert_eq!(got, expected, "{name}");
    }

    #[test]
    fn names_read_back() {
        use Kind::*;
        check("private-article-1", Some((Private, None, "article", "1")));
        check("presence-article-1", Some((Presence, None, "article", "1")));
        check("article-1", Some((Public, None, "article", "1")));
        check(
            "private-blog.post-x-y.z",
            Some((Private, Some("blog"), "post", "x-y.z")),
        );
        check(
            "private-blog_post-a_b",
            Some((Private, None, "blog_post", "a_b")),
        );
        check("private-article-", None);
        check("private-article", None);
        check("private--1", None);
        check("private-a.b.c-1", None);
        check("private-.a-1", None);
        check("private-encrypted-1", None);
        check("private-cache-1", None);
        check("presence-cache-1", None);
        check("cache-1", None);
        check("#server-to-user-1", None);
        check("private-article-1 2", None);
        check("", None);
    }

    #[test]
    fn every_made_name_reads_back() {
        for (kind, ns, model, key) in [
            (Kind::Private, None, "article", "42"),
            (Kind::Presence, Some("cms"), "blog_post", "a-b.c"),
            (Kind::Public, Some("x"), "y", "=@,.;"),
        ] {
            let made = ObjectChannel::new(kind, ns, model, key).unwrap();
            assert_eq!(ObjectChannel::parse(made.name()).unwrap(), made);
        }
    }

    #[test]
    fn bad_parts_are_typed_errors() {
        let new = |ns, model, key| ObjectChannel::new(Kind::Private, ns, model, key);
        assert_eq!(
            new(None, "a-b", "1"),
            Err(ChannelError::Model("a-b".into()))
        );
        assert_eq!(
            new(None, "private", "1"),
            Err(ChannelError::Model("private".into()))
        );
        assert_eq!(
            new(Some("a.b"), "m", "1"),
            Err(ChannelError::Namespace("a.b".into()))
        );
        assert_eq!(new(None, "m", ""), Err(ChannelError::Key(String::new())));
        assert_eq!(new(None, "m", "é"), Err(ChannelError::Key("é".into())));
        assert!(matches!(
            new(None, "m", &"1".repeat(200)),
            Err(ChannelError::Name(_))
        ));
    }
}
