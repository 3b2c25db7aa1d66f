//! A response body fed chunk by chunk from a task, with back-pressure: the task
//! waits while the client is slow, so memory stays flat however large the body.

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::response::Body;
use crate::error::BoxError;

/// Chunks in flight between the producing task and the socket.
const CHUNKS_IN_FLIGHT: usize = 4;

pub struct ChunkSender {
    tx: mpsc::Sender<Result<Bytes, BoxError>>,
}

/// The client has gone; the producer should stop.
#[derive(Debug)]
pub struct ClientGone;

impl ChunkSender {
    /// # Errors
    /// `ClientGone` once the response was dropped.
    pub async fn send(&self, chunk: impl Into<Bytes>) -> Result<(), ClientGone> {
        self.tx.send(Ok(chunk.into())).await.map_err(|_| ClientGone)
    }

    /// Ends the body with an error, so the client sees a broken transfer rather
    /// than a complete-looking but truncated file.
    pub async fn fail(self, err: BoxError) {
        let _ = self.tx.send(Err(err)).await;
    }
}

pub fn channel() -> (ChunkSender, Body) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(CHUNKS_IN_FLIGHT);
    let body =
        StreamBody::new(ReceiverStream::new(rx).map(|chunk| chunk.map(Frame::data))).boxed_unsync();
    (ChunkSender { tx }, body)
}
