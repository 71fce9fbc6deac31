//! [`Access`]: who is asking, what others see of them, and what they may see.

use std::future::Future;

use http::request::Parts;
use serde_json::{Map, Value};

use crate::channel::ObjectChannel;

/// The app's answers about its users, given once to [`Realtime::builder`](crate::Realtime::builder).
///
/// The web layer asks three questions, and a fourth when pages sign in:
///
/// - [`user`](Self::user): who made this request? Used for the `"user"` of each event (the
///   one who opened the page) and for the authorization endpoints (the one whose page wants to
///   listen). It runs off the request path for events, so it may read a database.
/// - [`profile`](Self::profile): what may other users see of this one? It becomes the event's
///   `"user"` and the user's entry in presence lists.
/// - [`may_see`](Self::may_see): may this user receive the events of this object? Asked when a
///   page subscribes to a private or presence channel; `false` answers pusher-js with 403.
/// - [`watchlist`](Self::watchlist): whose comings and goings does this user follow? Asked
///   when a page signs in (`pusherable.signin()`); the page is then told which of them are
///   online, and when that changes. Nobody, unless the app says otherwise.
///
/// Requests without a user ([`user`](Self::user) returns `None`) get no private or presence
/// channel at all; events they cause carry `"user": null`. An app that lets anonymous visitors
/// listen models them as a user of its own (`type User = Option<Account>`).
///
/// ```
/// use http::request::Parts;
/// use pusherable::{Access, ObjectChannel, Profile, Pusherable};
///
/// #[derive(Pusherable)]
/// struct Article { id: u64 }
///
/// struct Staff { id: u64, name: String }
///
/// #[derive(Clone)]
/// struct Newsroom;
///
/// impl Access for Newsroom {
///     type User = Staff;
///
///     async fn user(&self, request: &Parts) -> Option<Staff> {
///         // A real app reads its session here (a cookie, or what its session layer put in
///         // `request.extensions`).
///         let name = request.headers.get("x-user")?.to_str().ok()?;
///         Some(Staff { id: 1, name: name.to_owned() })
///     }
///
///     fn profile(&self, user: &Staff) -> Profile {
///         Profile::new(user.id).name(&user.name)
///     }
///
///     async fn may_see(&self, user: &Staff, object: &ObjectChannel) -> bool {
///         match object.key_of::<Article, u64>() {
///             Some(article) => article != 13 || user.id == 1,
///             None => false,
///         }
///     }
/// }
/// ```
pub trait Access: Send + Sync + 'static {
    /// The app's user type.
    type User: Send + Sync + 'static;

    /// The user who made `request`, or `None` for an anonymous request.
    ///
    /// `request` holds the method, URI, headers (cookies among them) and extensions of the
    /// request; a session layer installed *inside* the realtime layer (added to the router
    /// before it) has already put its data there.
    ///
    /// ```
    /// use pusherable::Access;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let (request, _) = http::Request::new(()).into_parts();
    /// assert_eq!(pusherable::__doc::NoOne.user(&request).await, None);
    /// # });
    /// ```
    fn user(&self, request: &Parts) -> impl Future<Output = Option<Self::User>> + Send;

    /// What other users may see of `user`: in each event's `"user"` and in presence lists.
    ///
    /// ```
    /// use pusherable::Access;
    /// assert_eq!(pusherable::__doc::NoOne.profile(&()).id(), "0");
    /// ```
    fn profile(&self, user: &Self::User) -> Profile;

    /// May `user` receive the events of `object`? Only asked for private and presence channels.
    ///
    /// ```
    /// use pusherable::{Access, ObjectChannel};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let article = ObjectChannel::parse("private-article-1")?;
    /// assert!(!pusherable::__doc::NoOne.may_see(&(), &article).await);
    /// # Ok::<(), pusherable::ChannelError>(()) }).unwrap();
    /// ```
    fn may_see(
        &self,
        user: &Self::User,
        object: &ObjectChannel,
    ) -> impl Future<Output = bool> + Send;

    /// The ids of the users whose presence `user` follows ("who is online"), as their
    /// [`Profile::id`]s. Asked when a page signs in; the page's `pusherable.on(
    /// "pusherable:watchlist", …)` callbacks then hear which of them are online and offline,
    /// and every change after that. At most 100 ids are watched: the rest are left out, with
    /// a warning in the log. The default watches nobody.
    ///
    /// ```
    /// use http::request::Parts;
    /// use pusherable::{Access, ObjectChannel, Profile};
    ///
    /// struct Team;
    ///
    /// impl Access for Team {
    ///     type User = u64;
    ///     async fn user(&self, _: &Parts) -> Option<u64> { Some(1) }
    ///     fn profile(&self, user: &u64) -> Profile { Profile::new(user) }
    ///     async fn may_see(&self, _: &u64, _: &ObjectChannel) -> bool { true }
    ///
    ///     // Everyone on the team follows everyone else.
    ///     async fn watchlist(&self, user: &u64) -> Vec<String> {
    ///         (1..=5).filter(|id| id != user).map(|id| id.to_string()).collect()
    ///     }
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// assert_eq!(Team.watchlist(&1).await, ["2", "3", "4", "5"]);
    /// assert!(pusherable::__doc::NoOne.watchlist(&()).await.is_empty());
    /// # });
    /// ```
    fn watchlist(&self, user: &Self::User) -> impl Future<Output = Vec<String>> + Send {
        let _ = user;
        async { Vec::new() }
    }
}

/// What others see of a user: an id, and display information such as a name.
///
/// In an event's payload it is `{"id": "7", "name": "Ada"}`; in a presence channel it is the
/// member `{"user_id": "7", "user_info": {"name": "Ada"}}`. Keep it small: presence limits
/// the info to 1 KB of JSON, and never put anything in it that other users should not read.
///
/// ```
/// use pusherable::Profile;
/// let ada = Profile::new(7).name("Ada").with("avatar", "/a/7.png");
/// assert_eq!(ada.id(), "7");
/// assert_eq!(ada.to_json(), serde_json::json!({"id": "7", "name": "Ada", "avatar": "/a/7.png"}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    id: String,
    info: Map<String, Value>,
}

impl Profile {
    /// A profile with this user id (any `Display`: numbers become their text).
    ///
    /// ```
    /// assert_eq!(pusherable::Profile::new("u-1").id(), "u-1");
    /// ```
    pub fn new(id: impl std::fmt::Display) -> Self {
        Profile {
            id: id.to_string(),
            info: Map::new(),
        }
    }

    /// Sets the display name, which the default notice and presence lists show.
    ///
    /// ```
    /// let p = pusherable::Profile::new(1).name("Ada");
    /// assert_eq!(p.info()["name"], "Ada");
    /// ```
    pub fn name(self, name: impl Into<String>) -> Self {
        self.with("name", name.into())
    }

    /// Adds one more piece of display information.
    ///
    /// ```
    /// let p = pusherable::Profile::new(1).with("role", "editor");
    /// assert_eq!(p.info()["role"], "editor");
    /// ```
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.info.insert(key.into(), value.into());
        self
    }

    /// The user id.
    ///
    /// ```
    /// assert_eq!(pusherable::Profile::new(42).id(), "42");
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The display information, without the id.
    ///
    /// ```
    /// assert!(pusherable::Profile::new(1).info().is_empty());
    /// ```
    pub fn info(&self) -> &Map<String, Value> {
        &self.info
    }

    /// The payload form: the display information with `"id"` added.
    ///
    /// ```
    /// let p = pusherable::Profile::new(1).name("Ada");
    /// assert_eq!(p.to_json(), serde_json::json!({"id": "1", "name": "Ada"}));
    /// ```
    pub fn to_json(&self) -> Value {
        let mut map = self.info.clone();
        map.insert("id".into(), Value::String(self.id.clone()));
        Value::Object(map)
    }
}
