use http::StatusCode;

use super::{ApiError, Ctx};
use crate::http::response::{full, with_content_type, Response};

/// The OpenAPI 3.1 description of this server, kept in the repository.
pub const OPENAPI_DOCUMENT: &str = include_str!("openapi.json");

pub async fn openapi_document(_ctx: Ctx) -> Result<Response, ApiError> {
    Ok(with_content_type(
        StatusCode::OK,
        "application/json",
        full(OPENAPI_DOCUMENT),
    ))
}
