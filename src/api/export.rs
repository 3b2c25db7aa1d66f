use http::StatusCode;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::views::EXPORT_VIEWS;
use super::{ApiError, Ctx};
use crate::export::{self, Format};
use crate::http::response::{attachment, streamed, with_content_type, Response};
use crate::http::BoxError;

/// The caller's whole journal, oldest first, streamed as a download.
pub async fn export_journal(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let account = ctx.state.accounts.account(&user).await?;
    let keys = ctx.entry_keys(&user).await?;
    let format = Format::parse(ctx.query().get("format").map(String::as_str))
        .map_err(|m| ApiError::field("format", m))?;
    let now = chrono::Utc::now();
    let pieces = export::stream(
        ctx.state.db.clone(),
        keys,
        account,
        format,
        now,
        EXPORT_VIEWS,
    );
    let body = streamed(ReceiverStream::new(pieces).map(|piece| piece.map_err(BoxError::from)));
    let mut response = with_content_type(StatusCode::OK, format.content_type(), body);
    let filename = format!(
        "serene-export-{}.{}",
        now.format("%Y-%m-%d"),
        format.extension()
    );
    attachment(&mut response, &filename);
    Ok(response)
}
