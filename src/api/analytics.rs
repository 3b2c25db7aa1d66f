use http::StatusCode;
use serde_json::{Map, Value};

use super::{ApiError, Ctx};
use crate::domain::WeekQuery;
use crate::http::response::{json, Response};

/// Entries per mood in one ISO week of the caller's time zone.
pub async fn weekly_moods(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let week = WeekQuery::parse(&ctx.query(), chrono::Utc::now())?;
    let counts = ctx.state.db.entries().count_moods(&user.id, &week).await?;
    let body: Map<String, Value> = counts
        .into_iter()
        .map(|(mood, n)| (mood, Value::from(n)))
        .collect();
    Ok(json(StatusCode::OK, &body))
}
