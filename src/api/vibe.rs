use http::StatusCode;
use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::{ApiError, Ctx};
use crate::domain::{optional_mood, required_note_text};
use crate::http::response::{json, Response};
use crate::http::sse;
use crate::vibe::VibeEvent;

pub async fn vibe_check(mut ctx: Ctx) -> Result<Response, ApiError> {
    let (note, mood) = checked_body(&mut ctx).await?;
    let result = ctx.state.vibe.check(&note, mood.as_deref()).await;
    Ok(json(StatusCode::OK, &result))
}

/// The reply as `delta` events, then one `done` event. A client that disconnects
/// drops the stream, which stops the check and its upstream call.
pub async fn vibe_check_stream(mut ctx: Ctx) -> Result<Response, ApiError> {
    let (note, mood) = checked_body(&mut ctx).await?;
    let events = ctx.state.vibe.check_streaming(note, mood);
    Ok(sse::response(ReceiverStream::new(events).map(
        |event| match event {
            VibeEvent::Delta(text) => sse::Event::new("delta", &json!({ "text": text })),
            VibeEvent::Done(result) => sse::Event::new("done", &result),
        },
    )))
}

/// Auth, the per-user limit, then the body's `note` and optional `mood` (the web
/// app streams the reply to an entry it just saved, so it sends the entry's mood).
async fn checked_body(ctx: &mut Ctx) -> Result<(String, Option<String>), ApiError> {
    let user = ctx.user()?;
    ctx.state.vibe_checks_by_user.hit(&user.id)?;
    let body = ctx.json_object().await?;
    let note = required_note_text(&body)?;
    let mood = optional_mood(&body)?.map(|mood| mood.as_str().to_owned());
    Ok((note, mood))
}
