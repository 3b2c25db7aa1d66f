use http::StatusCode;

use super::views::{EntryJson, PageJson};
use super::{ApiError, Ctx};
use crate::auth::AuthUser;
use crate::db::Update;
use crate::domain::time::now_millis;
use crate::domain::{EntryChanges, EntryFilter, EntryId, ListQuery, NewEntry, ValidationError};
use crate::http::response::{json, no_content, Response};

pub async fn create_entry(mut ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let keys = ctx.entry_keys(&user).await?;
    let body = ctx.json_object().await?;
    let entry = NewEntry::parse(&body)?;
    let ai_response = if deferred_vibe_check(&ctx)? {
        None
    } else {
        vibe_for_write(&ctx, &user, entry.note.as_str(), entry.mood.as_str()).await
    };
    let stored = ctx
        .state
        .db
        .entries()
        .insert(&keys, &entry, ai_response, now_millis())
        .await?;
    Ok(json(StatusCode::CREATED, &EntryJson::from(&stored)))
}

pub async fn list_entries(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    // One reading of the query string: the filters need every repeated value.
    let pairs = ctx.request.query_pairs();
    let single = pairs.iter().cloned().collect();
    let query = match (ListQuery::parse(&single), EntryFilter::parse(&pairs)) {
        (Ok(query), Ok(filter)) => ListQuery { filter, ..query },
        (Err(mut errors), Err(more)) => {
            errors.0.extend(more.0);
            return Err(errors.into());
        }
        (Err(errors), _) | (_, Err(errors)) => return Err(errors.into()),
    };
    let keys = ctx.entry_keys(&user).await?;
    let page = ctx.state.db.entries().list(&keys, &query).await?;
    let body = PageJson {
        entries: page.entries.iter().map(EntryJson::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    };
    Ok(json(StatusCode::OK, &body))
}

pub async fn get_entry(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let keys = ctx.entry_keys(&user).await?;
    let id = entry_id(&ctx)?;
    let entry = ctx
        .state
        .db
        .entries()
        .get(&keys, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(json(StatusCode::OK, &EntryJson::from(&entry)))
}

/// Only a note with different text runs the vibe check again; the AI call happens
/// between two short database calls, never inside one.
pub async fn update_entry(mut ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let keys = ctx.entry_keys(&user).await?;
    let id = entry_id(&ctx)?;
    let body = ctx.json_object().await?;
    let changes = EntryChanges::parse(&body)?;
    let entries = ctx.state.db.entries();
    let current = entries.get(&keys, &id).await?.ok_or(ApiError::NotFound)?;
    let new_note = changes
        .note
        .as_ref()
        .filter(|note| note.as_str() != current.note);
    let ai_response = match new_note {
        Some(note) => {
            let mood = changes
                .mood
                .as_ref()
                .map_or(current.mood.as_str(), |m| m.as_str());
            Some(vibe_for_write(&ctx, &user, note.as_str(), mood).await)
        }
        None => None,
    };
    let update = Update {
        changes,
        ai_response,
        current,
    };
    let entry = entries
        .update(&keys, &id, update)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(json(StatusCode::OK, &EntryJson::from(&entry)))
}

pub async fn delete_entry(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let id = entry_id(&ctx)?;
    if ctx.state.db.entries().delete(&user.id, &id).await? {
        Ok(no_content())
    } else {
        Err(ApiError::NotFound)
    }
}

/// `?vibe_check=deferred`: save at once, without a reply; the client then streams
/// the check with `{"entry_id"}` and the reply is stored with the entry (the web
/// app does this, so the reply a person watches arrive is the one kept, made once).
fn deferred_vibe_check(ctx: &Ctx) -> Result<bool, ApiError> {
    match ctx.request.query().get("vibe_check").map(String::as_str) {
        None => Ok(false),
        Some("deferred") => Ok(true),
        Some(_) => Err(ValidationError::field("vibe_check", "must be deferred when given").into()),
    }
}

fn entry_id(ctx: &Ctx) -> Result<EntryId, ApiError> {
    Ok(EntryId::parse(ctx.param("id").unwrap_or_default())?)
}

/// The reply an entry stores. Over the per-user limit the entry is still saved,
/// just without a reply.
async fn vibe_for_write(ctx: &Ctx, user: &AuthUser, note: &str, mood: &str) -> Option<String> {
    if ctx.state.vibe_checks_by_user.hit(&user.id).is_err() {
        return None;
    }
    ctx.state
        .vibe
        .check(note, Some(mood))
        .await
        .stored_response()
}
