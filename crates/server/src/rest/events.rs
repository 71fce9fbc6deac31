//! `POST /apps/{id}/events` and `POST /apps/{id}/batch_events`.

use axum::{
    body::Bytes,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use pusherable_protocol::{
    limits,
    rest::{BatchBody, ChannelAttributes, TriggerBody, TriggerReply},
};
use serde_json::{json, Value};

use super::{RestError, Signed};
use crate::{
    fanout,
    trigger::{self, Info},
};

pub(super) async fn trigger(Signed { app, body, .. }: Signed) -> Result<Response, RestError> {
    let body: TriggerBody = serde_json::from_slice(&body)
        .map_err(|e| RestError::bad_request(format!("Invalid event body: {e}")))?;
    if body.info.is_some() {
        // The counts asked for cover changes other nodes made before this request.
        app.settle().await;
    }
    let (event, reply) = trigger::check(&app, body)?;
    fanout::enqueue(&app, fanout::events(event)).await;
    Ok(if reply == TriggerReply::default() {
        // What `Json` would send, without serializing it for every trigger.
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Bytes::from_static(b"{}"),
        )
            .into_response()
    } else {
        Json(reply).into_response()
    })
}

pub(super) async fn batch(Signed { app, body, .. }: Signed) -> Result<Json<Value>, RestError> {
    let batch: BatchBody = serde_json::from_slice(&body)
        .map_err(|e| RestError::bad_request(format!("Invalid batch body: {e}")))?;
    if batch.batch.len() > limits::BATCH_EVENTS_MAX {
        return Err(RestError::bad_request(format!(
            "A batch holds at most {} events, not {}",
            limits::BATCH_EVENTS_MAX,
            batch.batch.len()
        )));
    }
    // Check every entry before publishing any, so that a bad entry publishes nothing.
    let mut checked = Vec::with_capacity(batch.batch.len());
    for e in &batch.batch {
        let channel = trigger::channel_name(&app, &e.channel)?;
        trigger::check_event(&app, &e.name, &e.data)?;
        let info = Info::parse(e.info.as_deref(), false)?;
        info.check(&channel)?;
        if let Some(s) = e.socket_id.as_deref().filter(|s| !s.is_empty()) {
            pusherable_protocol::SocketId::parse(s)
                .map_err(|e| RestError::bad_request(e.to_string()))?;
        }
        checked.push(info);
    }
    let any_info = batch.batch.iter().any(|e| e.info.is_some());
    if any_info {
        app.settle().await;
    }
    let mut replies = Vec::with_capacity(batch.batch.len());
    for (e, info) in batch.batch.into_iter().zip(checked) {
        let channel = e.channel.clone();
        let single = TriggerBody {
            name: e.name,
            data: e.data,
            channel: Some(e.channel),
            socket_id: e.socket_id,
            ..Default::default()
        };
        let (event, _) = trigger::check(&app, single)?;
        fanout::enqueue(&app, fanout::events(event)).await;
        replies.push(if info.user_count || info.subscription_count {
            trigger::attributes(&app, &channel, info)
        } else {
            ChannelAttributes::default()
        });
    }
    Ok(Json(if any_info {
        json!({ "batch": replies })
    } else {
        json!({})
    }))
}
