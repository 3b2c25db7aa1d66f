//! Server-sent events: a `text/event-stream` response fed from a stream of events.

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use tokio_stream::{Stream, StreamExt};

use super::response::{streamed, with_content_type, Response};
use super::BoxError;

/// One event: `event: <name>` with `data: <json>`.
pub struct Event {
    frame: Bytes,
}

impl Event {
    /// # Errors
    /// The data cannot be serialised (our own types always can).
    pub fn new<T: Serialize + ?Sized>(name: &str, data: &T) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_string(data)?;
        Ok(Self {
            frame: Bytes::from(format!("event: {name}\ndata: {json}\n\n")),
        })
    }
}

/// The response carrying `events`. A client that disconnects drops the response
/// and with it the stream, so the work that feeds it can stop.
pub fn response<S>(events: S) -> Response
where
    S: Stream<Item = Result<Event, serde_json::Error>> + Send + 'static,
{
    let chunks = events.map(|event| {
        event
            .map(|event| event.frame)
            .map_err(|err| Box::new(err) as BoxError)
    });
    let mut response = with_content_type(StatusCode::OK, "text/event-stream", streamed(chunks));
    response.headers_mut().insert(
        http::header::HeaderName::from_static("x-accel-buffering"),
        http::HeaderValue::from_static("no"),
    );
    response
}
