use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::{ApiError, Ctx};
use crate::domain::{parse_tz, streaks, FieldErrors, MoodsQuery, WeekQuery};
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

/// Entries per mood in every local day, ISO week or month from `from` to `to`.
pub async fn mood_buckets(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let query = MoodsQuery::parse(&ctx.query())?;
    // Read before the entries, so a write meanwhile makes what is kept stale. The
    // buckets name their dates, so the answer does not depend on today.
    let generation = ctx.state.db.write_generation(&user.id);
    let question = format!("moods {:?} {:?}", query.starts, query.bounds);
    let cache = &ctx.state.answers;
    if let Some(answer) = cache.get(&user.id, &question, generation, None) {
        return Ok(json(StatusCode::OK, &answer));
    }
    let rows = ctx
        .state
        .db
        .entries()
        .count_moods_by_bucket(&user.id, &query.bounds)
        .await?;
    let buckets: Vec<Value> = query
        .starts
        .iter()
        .zip(query.collect(rows))
        .map(|(day, counts)| {
            let counts: BTreeMap<String, u64> = counts.into_iter().collect();
            json!({ "start": day.to_string(), "counts": counts })
        })
        .collect();
    let answer = json!({ "buckets": buckets });
    cache.put(&user.id, &question, generation, None, answer.clone());
    Ok(json(StatusCode::OK, &answer))
}

/// Totals, streaks in the caller's time zone, the most common mood and top tags.
pub async fn journal_summary(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let mut errors = FieldErrors::default();
    let tz = parse_tz(&ctx.query(), &mut errors);
    let tz = errors.finish(tz)?;
    let now = chrono::Utc::now();
    let local_day = now.with_timezone(&tz).date_naive();
    // Read before the entries, so a write meanwhile makes what is kept stale.
    let generation = ctx.state.db.write_generation(&user.id);
    let question = format!("summary {}", tz.name());
    let cache = &ctx.state.answers;
    if let Some(summary) = cache.get(&user.id, &question, generation, Some(local_day)) {
        return Ok(json(StatusCode::OK, &summary));
    }
    let keys = ctx.entry_keys(&user).await?;
    let entries = ctx.state.db.entries();
    let (times, moods) = entries.summary_rows(&user.id).await?;
    let top_tags = entries.tag_counts(&keys, Some(TOP_TAGS)).await?;
    let streaks = streaks(&times, tz, now);
    let summary = json!({
            "entries_total": times.len(),
            "days_journaled": streaks.days_journaled,
            "current_streak_days": streaks.current,
            "longest_streak_days": streaks.longest,
            // Ordered by count, then name: the first is the answer, ties alphabetical.
            "most_common_mood": moods.first().map(|(mood, _)| mood),
            "top_tags": tag_list(top_tags),
    });
    cache.put(
        &user.id,
        &question,
        generation,
        Some(local_day),
        summary.clone(),
    );
    Ok(json(StatusCode::OK, &summary))
}

/// The caller's tags with their counts, most used first, for autocompletion.
pub async fn list_tags(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let keys = ctx.entry_keys(&user).await?;
    let tags = ctx.state.db.entries().tag_counts(&keys, None).await?;
    Ok(json(StatusCode::OK, &json!({ "tags": tag_list(tags) })))
}

const TOP_TAGS: u32 = 5;

fn tag_list(tags: Vec<(String, i64)>) -> Vec<Value> {
    tags.into_iter()
        .map(|(tag, count)| json!({ "tag": tag, "count": count }))
        .collect()
}
