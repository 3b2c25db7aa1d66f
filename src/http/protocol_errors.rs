//! The answers hyper writes by itself, for requests it cannot parse (a request line
//! that is not HTTP/1.x, a URI over 64 KiB, more headers than it reads, a
//! `Content-Length` it cannot hold), reach the client as the contract's JSON.
//!
//! hyper gives no hook for those answers, so the connection's writer watches for
//! them: every answer of our own carries `x-request-id`, hyper's never do. Such an
//! answer is swapped, whole, for the one the caller renders for its status; hyper
//! closes the connection right after it.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The whole replacement answer (status line, headers, body) for a status.
pub type RenderError = fn(StatusCode) -> Bytes;

pub struct ProtocolErrors<IO> {
    inner: IO,
    render: RenderError,
    /// A replacement being written, how much of it is out, and the length of
    /// the original write it stands for.
    replacing: Option<(Bytes, usize, usize)>,
    /// The last write went out whole, so the next one starts a new message. After
    /// a partial write hyper resumes mid-message, which is never inspected.
    at_message_start: bool,
}

impl<IO> ProtocolErrors<IO> {
    pub fn new(inner: IO, render: RenderError) -> Self {
        Self {
            inner,
            render,
            replacing: None,
            at_message_start: true,
        }
    }
}

/// The status of an answer hyper wrote itself, if `head` is one: a 4xx head without
/// our request id, with no body, ending exactly where the write ends.
fn hyper_error_status(head: &[u8]) -> Option<StatusCode> {
    let rest = head
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| head.strip_prefix(b"HTTP/1.0 "))?;
    let status = StatusCode::from_bytes(rest.get(..3)?).ok()?;
    if !status.is_client_error() {
        return None;
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != head.len() {
        return None;
    }
    let lines = || head[..end].split(|b| *b == b'\n');
    let has = |name: &[u8]| {
        lines()
            .any(|line| line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name))
    };
    let empty_body =
        lines().any(|line| line.trim_ascii().eq_ignore_ascii_case(b"content-length: 0"));
    (!has(b"x-request-id:") && empty_body).then_some(status)
}

impl<IO: AsyncWrite + Unpin> ProtocolErrors<IO> {
    /// Writes the pending replacement; ready with the original length when done.
    fn drive_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, original_len)) = &mut self.replacing {
            if *written == bytes.len() {
                let original_len = *original_len;
                self.replacing = None;
                return Poll::Ready(Ok(original_len));
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(0))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ProtocolErrors<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ProtocolErrors<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            let status = this
                .at_message_start
                .then(|| hyper_error_status(buf))
                .flatten();
            match status {
                Some(status) => this.replacing = Some(((this.render)(status), 0, buf.len())),
                None => {
                    let written = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
                    this.at_message_start = written == buf.len();
                    return Poll::Ready(Ok(written));
                }
            }
        }
        this.drive_replacement(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            let total: usize = bufs.iter().map(|b| b.len()).sum();
            let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
            let only = match (non_empty.next(), non_empty.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            };
            let status = only
                .filter(|_| this.at_message_start)
                .and_then(|head| hyper_error_status(head));
            match status {
                Some(status) => this.replacing = Some(((this.render)(status), 0, total)),
                None => {
                    let written = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
                    this.at_message_start = written == total;
                    return Poll::Ready(Ok(written));
                }
            }
        }
        this.drive_replacement(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_answers_are_recognised_and_ours_are_not() {
        let hyper =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(
            hyper_error_status(hyper),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let ours = b"HTTP/1.1 404 Not Found\r\nx-request-id: 1\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(hyper_error_status(ours), None);
        let with_body = b"HTTP/1.1 404 x\r\ncontent-length: 0\r\n\r\n{\"more\": 1}";
        assert_eq!(
            hyper_error_status(with_body),
            None,
            "a head must end the write"
        );
        let note_text = b"HTTP/1.1 404 x\r\n\r\n";
        assert_eq!(hyper_error_status(note_text), None, "no content-length: 0");
        let success = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(hyper_error_status(success), None);
        assert_eq!(hyper_error_status(b"{\"entries\":[]}"), None);
    }
}
