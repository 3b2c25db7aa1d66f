use http::StatusCode;
use serde_json::json;

use super::{ApiError, Ctx};
use crate::http::response::{json, Response};

/// 200 after a real database round trip; 503 when the database cannot answer.
pub async fn health(ctx: Ctx) -> Result<Response, ApiError> {
    ctx.state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::ServiceUnavailable(Box::new(e)))?;
    Ok(json(StatusCode::OK, &json!({ "status": "ok" })))
}
