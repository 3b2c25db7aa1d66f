//! Server-sent events over a channel-fed body: the handler returns at once and
//! keeps writing events; when the client disconnects the sender sees it.

use bytes::Bytes;
use http::StatusCode;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::response::{with_content_type, Response};

/// Writes events into the response body.
pub struct SseSender {
    tx: mpsc::Sender<Bytes>,
}

/// The client went away; the work behind the stream should stop.
#[derive(Debug)]
pub struct Disconnected;

impl SseSender {
    /// Sends `event: <name>` with `data: <json>`.
    ///
    /// # Errors
    /// `Disconnected` once the client has gone.
    pub async fn send<T: Serialize>(&self, event: &str, data: &T) -> Result<(), Disconnected> {
        let json = serde_json::to_string(data).map_err(|_| Disconnected)?;
        let frame = format!("event: {event}\ndata: {json}\n\n");
        self.tx
            .send(Bytes::from(frame))
            .await
            .map_err(|_| Disconnected)
    }

    /// Resolves when the client has disconnected.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

/// A `text/event-stream` response and the sender that feeds it.
pub fn channel() -> (SseSender, Response) {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let stream =
        ReceiverStream::new(rx).map(|bytes| Ok::<_, crate::error::BoxError>(Frame::data(bytes)));
    let body = StreamBody::new(stream).boxed_unsync();
    let mut response = with_content_type(StatusCode::OK, "text/event-stream", body);
    response.headers_mut().insert(
        http::header::HeaderName::from_static("x-accel-buffering"),
        http::HeaderValue::from_static("no"),
    );
    (SseSender { tx }, response)
}
