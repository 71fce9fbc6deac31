//! The [`Pusherable`] trait: what a model tells the web layer about itself.

use serde::Serialize;

use crate::channel::{ChannelError, ObjectChannel};

/// The fields of an object as they go into an event's payload: a JSON object.
///
/// ```
/// let mut fields = pusherable::Fields::new();
/// fields.insert("title".into(), "Hello".into());
/// assert_eq!(serde_json::Value::Object(fields), serde_json::json!({"title": "Hello"}));
/// ```
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// Which channel a model's objects live on, and so who may listen.
///
/// ```
/// use pusherable::Kind;
/// assert_eq!(Kind::default(), Kind::Private);
/// assert_eq!(Kind::Presence.prefix(), "presence-");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `private-…`: every subscriber is checked by [`Access::may_see`](crate::Access::may_see).
    /// The default: an object's fields are not for anyone who guesses its channel name.
    #[default]
    Private,
    /// `presence-…`: private, and each page also sees who else is on the object
    /// ([`Access::profile`](crate::Access::profile) of each user).
    Presence,
    /// No prefix: anyone who knows the name may listen, without asking the app. Opt in only for
    /// objects whose fields are public anyway.
    Public,
}

impl Kind {
    /// The prefix this kind gives a channel name (`""` for public channels).
    ///
    /// ```
    /// assert_eq!(pusherable::Kind::Private.prefix(), "private-");
    /// assert_eq!(pusherable::Kind::Public.prefix(), "");
    /// ```
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Private => "private-",
            Kind::Presence => "presence-",
            Kind::Public => "",
        }
    }
}

/// A model whose objects announce who views, edits and deletes them.
///
/// Derive it. The model name defaults to the type's name in snake_case, the key to the field
/// named `id` (or `pk`), the kind to [`Kind::Private`], and every field goes into the payload,
/// written with its serde name and its own `Serialize`:
///
/// ```
/// use pusherable::{Kind, Pusherable};
///
/// #[derive(Pusherable)]
/// #[pusherable(namespace = "blog", exclude(body))]
/// struct BlogPost {
///     id: u64,
///     title: String,
///     body: String,
///     #[pusherable(secret)]
///     author_email: String,
/// }
///
/// let post = BlogPost { id: 7, title: "Hello".into(), body: "…".into(), author_email: "a@b.c".into() };
/// assert_eq!(BlogPost::MODEL, "blog_post");
/// assert_eq!(post.pusherable_channel()?.name(), "private-blog.blog_post-7");
/// assert_eq!(serde_json::Value::Object(post.pusherable_fields()?), serde_json::json!({"id": 7, "title": "Hello"}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Attributes
///
/// On the struct, in `#[pusherable(...)]`:
///
/// | attribute | effect |
/// |---|---|
/// | `model = "article"` | the model name; ASCII letters, digits and `_` |
/// | `namespace = "blog"` | goes before the model name (`blog.article`), so that two models with the same name do not share channels |
/// | `private` (default), `presence`, `public` | the channel [`Kind`] |
/// | `include(a, b)` | only these fields go into the payload |
/// | `exclude(a, b)` | every field but these goes into the payload |
/// | `crate = "path"` | where the `pusherable` crate is, if renamed |
///
/// On a field: `#[pusherable(key)]` marks the primary key (any `Display` type whose text is
/// made of the characters channel names allow: letters, digits, `_ - = @ , . ;`);
/// `#[pusherable(skip)]` leaves the field out; `#[pusherable(secret)]` leaves it out for good:
/// the field is never serialized, and naming it in `include(...)` is a compile error:
///
/// ```compile_fail
/// #[derive(pusherable::Pusherable)]
/// #[pusherable(include(id, password_hash))]
/// struct User { id: u64, #[pusherable(secret)] password_hash: String }
/// ```
///
/// Every other mistake is a compile error too: a model without a key,
///
/// ```compile_fail
/// #[derive(pusherable::Pusherable)]
/// struct Note { text: String }
/// ```
///
/// a model name that is not ASCII letters, digits and `_`,
///
/// ```compile_fail
/// #[derive(pusherable::Pusherable)]
/// #[pusherable(model = "news-item")]
/// struct Item { id: u64 }
/// ```
///
/// a secret key (the key is in the channel name), a field list naming no field, two kinds:
///
/// ```compile_fail
/// #[derive(pusherable::Pusherable)]
/// struct Token { #[pusherable(secret)] id: String }
/// ```
///
/// ```compile_fail
/// #[derive(pusherable::Pusherable)]
/// #[pusherable(exclude(titel))]
/// struct Article { id: u64, title: String }
/// ```
///
/// ```compile_fail
/// #[derive(pusherable::Pusherable)]
/// #[pusherable(public, presence)]
/// struct Room { id: u64 }
/// ```
///
/// These serde attributes are honoured, so the payload's keys and values are the ones the
/// app's own JSON has: `rename_all` on the struct; `rename`, `skip`, `skip_serializing`,
/// `skip_serializing_if`, `flatten`, `serialize_with` and `with` on fields. The struct itself
/// need not implement `Serialize`; each payload field's type must.
///
/// # By hand
///
/// For a type the derive does not fit, implement the two methods:
///
/// ```
/// use pusherable::{Fields, Pusherable};
///
/// struct Row(i64, String);
///
/// impl Pusherable for Row {
///     const MODEL: &'static str = "row";
///     fn pusherable_key(&self) -> String { self.0.to_string() }
///     fn pusherable_fields(&self) -> Result<Fields, serde_json::Error> {
///         let mut fields = Fields::new();
///         fields.insert("name".into(), self.1.clone().into());
///         Ok(fields)
///     }
/// }
/// assert_eq!(Row(3, "x".into()).pusherable_channel()?.name(), "private-row-3");
/// # Ok::<(), pusherable::ChannelError>(())
/// ```
pub trait Pusherable {
    /// The model name in channel names: ASCII letters, digits and `_`.
    const MODEL: &'static str;
    /// Goes before the model name, to keep models of the same name apart.
    const NAMESPACE: Option<&'static str> = None;
    /// Who may listen: private (the default), presence or public.
    const KIND: Kind = Kind::Private;

    /// The primary key, as it appears in the channel name.
    ///
    /// ```
    /// # use pusherable::Pusherable;
    /// #[derive(Pusherable)]
    /// struct Article { id: u64 }
    /// assert_eq!(Article { id: 42 }.pusherable_key(), "42");
    /// ```
    fn pusherable_key(&self) -> String;

    /// The object's fields, as sent in the payload's `"object"`.
    ///
    /// ```
    /// # use pusherable::Pusherable;
    /// #[derive(serde::Serialize, Pusherable)]
    /// #[serde(rename_all = "camelCase")]
    /// struct Article { id: u64, first_line: String }
    /// let fields = Article { id: 1, first_line: "Once".into() }.pusherable_fields()?;
    /// assert_eq!(fields["firstLine"], "Once");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    fn pusherable_fields(&self) -> Result<Fields, serde_json::Error>;

    /// The object's channel: `{kind prefix}{namespace.}{model}-{key}`, such as
    /// `private-article-42`.
    ///
    /// ```
    /// # use pusherable::Pusherable;
    /// #[derive(Pusherable)]
    /// #[pusherable(presence, model = "story")]
    /// struct Article { id: u64 }
    /// assert_eq!(Article { id: 42 }.pusherable_channel()?.name(), "presence-story-42");
    /// # Ok::<(), pusherable::ChannelError>(())
    /// ```
    fn pusherable_channel(&self) -> Result<ObjectChannel, ChannelError> {
        ObjectChannel::new(
            Self::KIND,
            Self::NAMESPACE,
            Self::MODEL,
            &self.pusherable_key(),
        )
    }
}

/// What the derive's generated code calls; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_json;

    use serde::ser::Error as _;

    /// `serde_json::to_value`, named so that generated code needs no import.
    pub fn to_value<T: serde::Serialize + ?Sized>(
        value: &T,
    ) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(value)
    }

    /// Merges a `#[serde(flatten)]` field's object into the payload.
    pub fn flatten(
        fields: &mut super::Fields,
        value: Result<serde_json::Value, serde_json::Error>,
    ) -> Result<(), serde_json::Error> {
        match value? {
            serde_json::Value::Object(map) => {
                fields.extend(map);
                Ok(())
            }
            serde_json::Value::Null => Ok(()),
            _ => Err(serde_json::Error::custom(
                "a flattened field must serialize to a map",
            )),
        }
    }
}

/// The payload of every event: `{"object": {...}, "user": {...}}`, django-pusherable's shape.
#[derive(Serialize)]
pub(crate) struct Payload<'a> {
    pub(crate) object: &'a Fields,
    pub(crate) user: Option<&'a serde_json::Value>,
}
