//! [`Notify`]: the notification a handler declares next to its response.

use std::{convert::Infallible, sync::Arc};

use axum::response::{IntoResponseParts, ResponseParts};
use pusherable_protocol::limits::EVENT_NAME_MAX;

use crate::{
    channel::{ChannelError, ObjectChannel},
    model::{Fields, Pusherable},
};

/// An event about one object, for the realtime layer to send once the response is a success.
///
/// Return it with the response, in one expression:
///
/// ```
/// use axum::{extract::Path, response::{Html, IntoResponse}};
/// use pusherable::{Notify, Pusherable};
///
/// #[derive(Pusherable)]
/// struct Article { id: u64, title: String }
///
/// async fn edit(Path(id): Path<u64>) -> impl IntoResponse {
///     let article = Article { id, title: "Hello".into() };
///     let page = format!("<h1>Editing {}</h1>", article.title);
///     (Notify::update(&article), Html(page))
/// }
/// ```
///
/// The layer ([`Realtime::layer`](crate::Realtime::layer)) sends it only when the response
/// status is 2xx or 3xx (a successful save usually answers with a redirect), adds the acting
/// user from [`Access::user`](crate::Access::user), and never lets a failure reach the page.
/// Without the layer, a `Notify` does nothing.
///
/// The object's fields are read when the `Notify` is made, so the handler may drop or move the
/// object afterwards. A model whose channel cannot be made (a key with a space, say) gives a
/// `Notify` that is logged and counted as failed instead of sent.
#[derive(Clone, Debug)]
pub struct Notify {
    pub(crate) inner: Result<Arc<Event>, NotifyError>,
}

/// A notification, ready to send: what the queue carries.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) channel: ObjectChannel,
    pub(crate) name: String,
    pub(crate) object: Fields,
}

/// Why a [`Notify`] could not be made; it is logged and counted, never shown to the page.
///
/// ```
/// #[derive(pusherable::Pusherable)]
/// struct Tag { id: String }
/// let notify = pusherable::Notify::view(&Tag { id: "not valid".into() });
/// assert!(matches!(notify.error(), Some(pusherable::NotifyError::Channel(_))));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotifyError {
    /// The object has no valid channel.
    #[error("no channel for this object: {0}")]
    Channel(#[from] ChannelError),
    /// The object's fields did not serialize.
    #[error("the object's fields did not serialize: {0}")]
    Fields(Arc<serde_json::Error>),
    /// The event name is empty, longer than 200 characters, or starts with `pusher:`,
    /// `pusher_internal:` or `client-`, which pusher clients treat specially.
    #[error("invalid event name {0:?}")]
    EventName(String),
}

/// The notifications a response carries, kept in its extensions until the layer takes them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pending(pub(crate) Vec<Notify>);

impl Notify {
    /// `view`: someone opened the object's page (django-pusherable's `PusherDetailMixin`).
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// let n = pusherable::Notify::view(&Article { id: 1 });
    /// assert_eq!(n.event_name(), Some("view"));
    /// ```
    pub fn view<T: Pusherable + ?Sized>(object: &T) -> Self {
        Self::custom("view", object)
    }

    /// `update`: someone opened the object's edit form (`PusherUpdateMixin`).
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// let n = pusherable::Notify::update(&Article { id: 1 });
    /// assert_eq!(n.event_name(), Some("update"));
    /// ```
    pub fn update<T: Pusherable + ?Sized>(object: &T) -> Self {
        Self::custom("update", object)
    }

    /// `delete`: someone opened the object's delete confirmation (`PusherDeleteMixin`).
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// let n = pusherable::Notify::delete(&Article { id: 1 });
    /// assert_eq!(n.event_name(), Some("delete"));
    /// ```
    pub fn delete<T: Pusherable + ?Sized>(object: &T) -> Self {
        Self::custom("delete", object)
    }

    /// `updated`: someone saved the object. Return it from the handler that saves, usually with
    /// a redirect; a failed save (an error status) sends nothing.
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// let n = pusherable::Notify::updated(&Article { id: 1 });
    /// assert_eq!(n.event_name(), Some("updated"));
    /// ```
    pub fn updated<T: Pusherable + ?Sized>(object: &T) -> Self {
        Self::custom("updated", object)
    }

    /// `deleted`: someone deleted the object. Make it from the object as it was loaded before
    /// the delete.
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// let n = pusherable::Notify::deleted(&Article { id: 1 });
    /// assert_eq!(n.event_name(), Some("deleted"));
    /// ```
    pub fn deleted<T: Pusherable + ?Sized>(object: &T) -> Self {
        Self::custom("deleted", object)
    }

    /// An event with a name of the app's choosing (django-pusherable's `pusher_event_name`).
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// let n = pusherable::Notify::custom("published", &Article { id: 1 });
    /// assert_eq!(n.event_name(), Some("published"));
    /// assert!(pusherable::Notify::custom("pusher:x", &Article { id: 1 }).error().is_some());
    /// ```
    pub fn custom<T: Pusherable + ?Sized>(event: &str, object: &T) -> Self {
        Notify {
            inner: Self::make(event, object).map(Arc::new),
        }
    }

    fn make<T: Pusherable + ?Sized>(event: &str, object: &T) -> Result<Event, NotifyError> {
        let reserved = ["pusher:", "pusher_internal:", "client-"]
            .iter()
            .any(|p| event.starts_with(p));
        if event.is_empty() || event.chars().count() > EVENT_NAME_MAX || reserved {
            return Err(NotifyError::EventName(event.to_owned()));
        }
        let channel = object.pusherable_channel()?;
        let object = object
            .pusherable_fields()
            .map_err(|e| NotifyError::Fields(Arc::new(e)))?;
        Ok(Event {
            channel,
            name: event.to_owned(),
            object,
        })
    }

    /// The event name, unless the notification could not be made.
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// assert_eq!(pusherable::Notify::view(&Article { id: 1 }).event_name(), Some("view"));
    /// ```
    pub fn event_name(&self) -> Option<&str> {
        self.inner.as_ref().ok().map(|e| e.name.as_str())
    }

    /// The channel it goes to, unless the notification could not be made.
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// let n = pusherable::Notify::view(&Article { id: 1 });
    /// assert_eq!(n.channel().map(|c| c.name()), Some("private-article-1"));
    /// ```
    pub fn channel(&self) -> Option<&ObjectChannel> {
        self.inner.as_ref().ok().map(|e| &e.channel)
    }

    /// Why the notification could not be made, if it could not.
    ///
    /// ```
    /// # #[derive(pusherable::Pusherable)] struct Article { id: u64 }
    /// assert!(pusherable::Notify::view(&Article { id: 1 }).error().is_none());
    /// ```
    pub fn error(&self) -> Option<&NotifyError> {
        self.inner.as_ref().err()
    }
}

/// Puts the notification into the response's extensions, where the layer finds it. A response
/// may carry several.
impl IntoResponseParts for Notify {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Infallible> {
        match res.extensions_mut().get_mut::<Pending>() {
            Some(pending) => pending.0.push(self),
            None => {
                res.extensions_mut().insert(Pending(vec![self]));
            }
        }
        Ok(res)
    }
}
