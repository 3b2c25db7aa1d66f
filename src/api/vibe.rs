use http::StatusCode;
use serde_json::json;
use tokio::sync::mpsc;

use crate::auth::session;
use crate::domain::required_note_text;
use crate::error::ApiError;
use crate::http::response::{json, Response};
use crate::http::{sse, RequestCtx};

pub async fn vibe_check(mut ctx: RequestCtx) -> Result<Response, ApiError> {
    let note = checked_note(&mut ctx).await?;
    let result = ctx.state.vibe.check(&note, None, None).await;
    Ok(json(StatusCode::OK, &result))
}

/// Relays the reply as `delta` events and ends with one `done` event. A client
/// that disconnects drops the pipeline, and with it the upstream call.
pub async fn vibe_check_stream(mut ctx: RequestCtx) -> Result<Response, ApiError> {
    let note = checked_note(&mut ctx).await?;
    let state = ctx.state.clone();
    let (events, response) = sse::channel();
    tokio::spawn(async move {
        let (delta_tx, mut delta_rx) = mpsc::channel::<String>(32);
        let check = state.vibe.check(&note, None, Some(delta_tx));
        tokio::pin!(check);
        let result = loop {
            tokio::select! {
                result = &mut check => break result,
                Some(text) = delta_rx.recv() => {
                    if events.send("delta", &json!({ "text": text })).await.is_err() {
                        return;
                    }
                }
                () = events.closed() => return,
            }
        };
        while let Ok(text) = delta_rx.try_recv() {
            if events
                .send("delta", &json!({ "text": text }))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = events.send("done", &result).await;
    });
    Ok(response)
}

/// Auth, the per-user limit, then the body's `note`.
async fn checked_note(ctx: &mut RequestCtx) -> Result<String, ApiError> {
    let user = session::require_user(ctx)?;
    ctx.state.limits.vibe_checks_by_user.hit(&user.id)?;
    let body = ctx.json_object().await?;
    required_note_text(&body)
}
