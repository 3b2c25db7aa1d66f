use http::StatusCode;

use crate::error::ApiError;
use crate::http::response::{full, with_content_type, Response};
use crate::http::RequestCtx;

/// The OpenAPI 3.1 description of this server, kept in the repository.
pub const OPENAPI_DOCUMENT: &str = include_str!("openapi.json");

pub async fn openapi_document(_ctx: RequestCtx) -> Result<Response, ApiError> {
    Ok(with_content_type(
        StatusCode::OK,
        "application/json",
        full(OPENAPI_DOCUMENT),
    ))
}
