use http::StatusCode;
use serde_json::json;

use crate::error::ApiError;
use crate::http::response::{json, Response};
use crate::http::RequestCtx;

/// 200 after a real database round trip; 503 when the database cannot answer.
pub async fn health(ctx: RequestCtx) -> Result<Response, ApiError> {
    ctx.state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::ServiceUnavailable(Box::new(e)))?;
    Ok(json(StatusCode::OK, &json!({ "status": "ok" })))
}
