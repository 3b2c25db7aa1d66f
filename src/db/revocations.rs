use rusqlite::params;

use super::Database;

pub struct RevocationStore<'a> {
    db: &'a Database,
}

impl<'a> RevocationStore<'a> {
    pub(super) fn new(db: &'a Database) -> Self {
        Self { db }
    }

    /// Records a revoked token id and forgets revocations whose tokens have expired anyway.
    ///
    /// # Errors
    /// The write fails.
    pub async fn insert(
        &self,
        jti: &str,
        expires_at_secs: i64,
        now_secs: i64,
    ) -> Result<(), tokio_rusqlite::Error> {
        let jti = jti.to_owned();
        self.db
            .writer()
            .call(move |conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.prepare_cached("DELETE FROM revoked_tokens WHERE expires_at < ?1")?
                    .execute([now_secs])?;
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)",
                )?
                .execute(params![jti, expires_at_secs])?;
                tx.commit()
            })
            .await
    }

    /// # Errors
    /// The read fails.
    pub async fn load_unexpired(
        &self,
        now_secs: i64,
    ) -> Result<Vec<(String, i64)>, tokio_rusqlite::Error> {
        self.db
            .reader()
            .call(move |conn| {
                conn.prepare("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= ?1")?
                    .query_map([now_secs], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .await
    }
}
