//! The tower layer that turns a successful response's [`Notify`](crate::Notify) into a queued
//! event.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{Request, Response};
use pusherable_protocol::SocketId;
use tower_layer::Layer;
use tower_service::Service;

use crate::{access::Access, notify::Pending, queue::Actor, realtime::Realtime};

/// The header a page may send with its socket id, so that it does not receive the events its
/// own request causes (the same header Laravel Echo sends). In the page:
/// `fetch(url, {headers: {'X-Socket-ID': pusherable.socketId()}})`.
///
/// ```
/// assert_eq!(pusherable::SOCKET_ID_HEADER, "x-socket-id");
/// ```
pub const SOCKET_ID_HEADER: &str = "x-socket-id";

/// Sends the notifications of successful responses; made by
/// [`Realtime::layer`](crate::Realtime::layer).
///
/// For each response that carries a [`Notify`](crate::Notify):
///
/// - a 2xx or 3xx status queues its events, with the request's head kept to find the acting
///   user in the background, and the `X-Socket-ID` header (when it holds a valid socket id)
///   naming a connection to leave out;
/// - any other status drops them: nothing fires for a failed save or an error page;
/// - so do `HEAD` requests and prefetches (`Sec-Purpose: prefetch`, or the older `Purpose`
///   and `X-Moz` headers), which no person is looking at;
/// - either way the response goes back at once, unchanged but for the notifications taken out
///   of its extensions.
///
/// ```
/// # #[cfg(feature = "embedded")] {
/// # use pusherable::__doc::NoOne;
/// # async fn run() -> Result<(), pusherable::BuildError> {
/// let realtime = pusherable::Realtime::embedded(NoOne)?;
/// let layer: pusherable::NotifyLayer<NoOne> = realtime.layer();
/// # Ok(()) }
/// # }
/// ```
pub struct NotifyLayer<A: Access> {
    realtime: Realtime<A>,
}

impl<A: Access> NotifyLayer<A> {
    pub(crate) fn new(realtime: Realtime<A>) -> Self {
        NotifyLayer { realtime }
    }
}

impl<A: Access> Clone for NotifyLayer<A> {
    fn clone(&self) -> Self {
        NotifyLayer {
            realtime: self.realtime.clone(),
        }
    }
}

impl<A: Access> std::fmt::Debug for NotifyLayer<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyLayer").finish_non_exhaustive()
    }
}

impl<S, A: Access> Layer<S> for NotifyLayer<A> {
    type Service = NotifyService<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        NotifyService {
            inner,
            realtime: self.realtime.clone(),
        }
    }
}

/// The service [`NotifyLayer`] wraps around the app.
///
/// ```
/// # #[cfg(feature = "embedded")] {
/// # use pusherable::__doc::NoOne;
/// use tower_layer::Layer as _;
/// # async fn run() -> Result<(), pusherable::BuildError> {
/// let realtime = pusherable::Realtime::embedded(NoOne)?;
/// let service = realtime.layer().layer(axum::Router::<()>::new());
/// # Ok(()) }
/// # }
/// ```
pub struct NotifyService<S, A: Access> {
    inner: S,
    realtime: Realtime<A>,
}

impl<S: Clone, A: Access> Clone for NotifyService<S, A> {
    fn clone(&self) -> Self {
        NotifyService {
            inner: self.inner.clone(),
            realtime: self.realtime.clone(),
        }
    }
}

impl<S, A: Access> std::fmt::Debug for NotifyService<S, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyService").finish_non_exhaustive()
    }
}

impl<S, A, ReqBody, ResBody> Service<Request<ReqBody>> for NotifyService<S, A>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    A: Access,
    ReqBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (head, body) = request.into_parts();
        // Kept for `Access::user`, which runs in the background once the response is known to
        // carry a notification.
        let kept = head.clone();
        let future = self.inner.call(Request::from_parts(head, body));
        let realtime = self.realtime.clone();
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(Pending(notifications)) = response.extensions_mut().remove::<Pending>() {
                let status = response.status();
                if (status.is_success() || status.is_redirection()) && seen_by_a_person(&kept) {
                    let except = kept
                        .headers
                        .get(SOCKET_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .filter(|s| SocketId::parse(s).is_ok())
                        .map(str::to_owned);
                    realtime.enqueue(notifications, Actor::Request(Box::new(kept)), except);
                }
            }
            Ok(response)
        })
    }
}

/// False for requests that render a page nobody looks at: `HEAD`, and prefetches by browsers.
fn seen_by_a_person(request: &http::request::Parts) -> bool {
    if request.method == http::Method::HEAD {
        return false;
    }
    !["sec-purpose", "purpose", "x-moz"].iter().any(|name| {
        request
            .headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("prefetch"))
    })
}
