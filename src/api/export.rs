use http::{header, HeaderValue, StatusCode};

use crate::error::ApiError;
use crate::export::{ExportWriter, Format};
use crate::http::response::Response;
use crate::http::{stream, RequestCtx};

/// Entries read from the database per step of the stream.
const BATCH: u32 = 200;

/// The caller's whole journal, oldest first, streamed in batches so memory stays
/// flat however many entries there are.
pub async fn export_journal(ctx: RequestCtx) -> Result<Response, ApiError> {
    let account = super::auth::signed_in_account(&ctx).await?;
    let query = ctx.query();
    let format = Format::parse(query.get("format").map(String::as_str))
        .map_err(|m| ApiError::field("format", m))?;
    let now = chrono::Utc::now();

    let (chunks, body) = stream::channel();
    let state = ctx.state.clone();
    tokio::spawn(async move {
        let mut writer = ExportWriter::new(format);
        if chunks.send(writer.begin(&account, now)).await.is_err() {
            return;
        }
        let entries = state.db.entries();
        let mut after = None;
        loop {
            let batch = match entries.oldest_first(&account.id, after.take(), BATCH).await {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::error!(error = ?err.cause_chain(), "export stopped by a database error");
                    chunks.fail(Box::new(err)).await;
                    return;
                }
            };
            let mut piece = String::new();
            for entry in &batch {
                piece.push_str(&writer.entry(entry));
            }
            if chunks.send(piece).await.is_err() {
                return;
            }
            match batch.last() {
                Some(last) if batch.len() == BATCH as usize => after = Some(last.cursor()),
                _ => break,
            }
        }
        let _ = chunks.send(writer.end()).await;
    });

    let mut response = http::Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let filename = format!(
        "serene-export-{}.{}",
        now.format("%Y-%m-%d"),
        format.extension()
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
