//! Numbered migrations from `sql/`, applied in one transaction at start; the
//! schema version lives in `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

/// Every migration, in order; a database at schema version `n` has had the first `n`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../sql/0001_init.sql"),
    include_str!("../../sql/0002_sessions.sql"),
    include_str!("../../sql/0003_covering_index.sql"),
    include_str!("../../sql/0004_search.sql"),
    include_str!("../../sql/0005_tag_counts.sql"),
    include_str!("../../sql/0006_search_per_user.sql"),
    include_str!("../../sql/0007_sealed_replies.sql"),
    include_str!("../../sql/0008_meta.sql"),
    include_str!("../../sql/0009_sealed_entries.sql"),
    include_str!("../../sql/0010_time_ordered_seq.sql"),
    include_str!("../../sql/0011_untag_without_triggers.sql"),
    include_str!("../../sql/0012_entries_by_account.sql"),
];

/// Applies the migrations the database has not seen yet.
///
/// # Errors
/// A migration fails (nothing is applied then), or the database is newer than this binary.
pub fn apply(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(rusqlite::Error::ToSqlConversionFailure(
            format!(
                "database schema version {current} is newer than this binary knows ({})",
                MIGRATIONS.len()
            )
            .into(),
        ));
    }
    for sql in &MIGRATIONS[current..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    tx.commit()?;
    Ok(())
}
