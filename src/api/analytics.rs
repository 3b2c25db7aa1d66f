use http::StatusCode;
use serde_json::{Map, Value};

use crate::auth::session;
use crate::domain::WeekQuery;
use crate::error::ApiError;
use crate::http::response::{json, Response};
use crate::http::RequestCtx;

/// Entries per mood in one ISO week of the caller's time zone.
pub async fn weekly_moods(ctx: RequestCtx) -> Result<Response, ApiError> {
    let user = session::require_user(&ctx)?;
    let week = WeekQuery::parse(&ctx.query(), chrono::Utc::now())?;
    let counts = ctx.state.db.entries().count_moods(&user.id, &week).await?;
    let body: Map<String, Value> = counts
        .into_iter()
        .map(|(mood, n)| (mood, Value::from(n)))
        .collect();
    Ok(json(StatusCode::OK, &body))
}
