use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tracing::Instrument;

use super::{ApiError, AppState, Ctx};
use crate::db::EntryKeys;
use crate::domain::{Entry, VibeSubject};
use crate::http::response::{json, Response};
use crate::http::sse;
use crate::vibe::{VibeEvent, VibeResult};

/// Pieces of a reply in flight between the pipeline and a slow client.
const EVENTS_IN_FLIGHT: usize = 16;

pub async fn vibe_check(mut ctx: Ctx) -> Result<Response, ApiError> {
    let subject = checked_subject(&mut ctx).await?;
    let result = match subject {
        Subject::Note { note, mood } => ctx.state.vibe.check(&note, mood.as_deref()).await,
        Subject::Entry(entry, keys) => {
            let result = ctx.state.vibe.check(&entry.note, Some(&entry.mood)).await;
            store_reply(&ctx.state, &keys, &entry, &result).await;
            result
        }
    };
    Ok(json(StatusCode::OK, &result))
}

/// The reply as `delta` events, then one `done` event. A client that disconnects
/// drops the stream, which stops the check and its upstream call; the check of a
/// saved entry runs on to its end instead, so the entry still gets its reply.
pub async fn vibe_check_stream(mut ctx: Ctx) -> Result<Response, ApiError> {
    let subject = checked_subject(&mut ctx).await?;
    let events = match subject {
        Subject::Note { note, mood } => ctx.state.vibe.check_streaming(note, mood),
        Subject::Entry(entry, keys) => {
            let events = ctx
                .state
                .vibe
                .check_streaming(entry.note.clone(), Some(entry.mood.clone()));
            relay_and_store(Arc::clone(&ctx.state), *keys, entry, events)
        }
    };
    Ok(sse::response(ReceiverStream::new(events).map(
        |event| match event {
            VibeEvent::Delta(text) => sse::Event::new("delta", &json!({ "text": text })),
            VibeEvent::Done(result) => sse::Event::new("done", &result),
        },
    )))
}

enum Subject {
    Note { note: String, mood: Option<String> },
    Entry(Entry, Box<EntryKeys>),
}

/// Auth, the per-user limit, then what the body asks about: a note (with an
/// optional mood), or one of the caller's saved entries.
async fn checked_subject(ctx: &mut Ctx) -> Result<Subject, ApiError> {
    let user = ctx.user()?;
    ctx.state.vibe_checks_by_user.hit(&user.id)?;
    let body = ctx.json_object().await?;
    let subject = match VibeSubject::parse(&body)? {
        VibeSubject::Note { note, mood } => Subject::Note {
            note,
            mood: mood.map(|mood| mood.as_str().to_owned()),
        },
        VibeSubject::Entry(id) => {
            let keys = ctx.entry_keys(&user).await?;
            let entry = ctx
                .state
                .db
                .entries()
                .get(&keys, &id?)
                .await?
                .ok_or(ApiError::NotFound)?;
            Subject::Entry(entry, Box::new(keys))
        }
    };
    Ok(subject)
}

/// Passes the events on, and stores the final reply with the entry before the
/// client hears `done`, so the history shows exactly the reply that streamed.
fn relay_and_store(
    state: Arc<AppState>,
    keys: EntryKeys,
    entry: Entry,
    mut events: mpsc::Receiver<VibeEvent>,
) -> mpsc::Receiver<VibeEvent> {
    let (relay, receiver) = mpsc::channel(EVENTS_IN_FLIGHT);
    let task = async move {
        while let Some(event) = events.recv().await {
            if let VibeEvent::Done(result) = &event {
                store_reply(&state, &keys, &entry, result).await;
            }
            // A client that left stops hearing; the check still ends and is stored.
            let _ = relay.send(event).await;
        }
    };
    tokio::spawn(task.in_current_span());
    receiver
}

async fn store_reply(state: &AppState, keys: &EntryKeys, entry: &Entry, result: &VibeResult) {
    let Some(reply) = result.clone().stored_response() else {
        return;
    };
    match state
        .db
        .entries()
        .store_late_reply(keys, entry, &reply)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            entry_id = %entry.id,
            "reply not stored: the entry changed or already has one"
        ),
        Err(err) => tracing::error!(entry_id = %entry.id, error = %err, "reply not stored"),
    }
}
