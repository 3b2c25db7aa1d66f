//! bcrypt off the async runtime, behind a semaphore so a login storm queues
//! instead of taking every core away from other requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::AuthError;
use crate::domain::{Password, MAX_PASSWORD_BYTES};

/// The salt and digest of a real bcrypt hash; with the configured cost put in
/// front it makes a hash no password matches, verified at full cost.
/// Password checks waiting for a core at most; beyond that the server is busy
/// (503 with `Retry-After`) instead of queueing without end.
pub const MAX_WAITING: usize = 32;

const DUMMY_HASH_TAIL: &str = "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    dummy_hash: String,
}

/// Counts a waiter while it exists, including when its future is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    pub fn new(cost: u32) -> Self {
        // Keep one core for everything else when there is more than one.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let permits = cores.saturating_sub(1).max(1);
        Self {
            cost,
            permits: Arc::new(Semaphore::new(permits)),
            waiting: AtomicUsize::new(0),
            dummy_hash: format!("$2b${cost:02}${DUMMY_HASH_TAIL}"),
        }
    }

    /// Hashes a password that the domain rules already accepted (at most 72 bytes).
    ///
    /// # Errors
    /// Only on an internal failure of the blocking pool or of bcrypt.
    pub async fn hash(&self, password: &Password) -> Result<String, AuthError> {
        let plain = password.as_str().to_owned();
        if plain.len() > MAX_PASSWORD_BYTES {
            return Err(AuthError::internal(
                "password longer than bcrypt reads reached hashing",
            ));
        }
        let cost = self.cost;
        // `non_truncating_hash` also refuses exactly 72 bytes (bcrypt then drops only the
        // C string terminator, not a password byte); the contract allows 72, and the
        // guard above makes sure no byte of the password is ever cut.
        self.run(move || bcrypt::hash(plain, cost).map_err(AuthError::internal))
            .await?
    }

    /// Checks a password against a stored hash, or against a dummy hash of the same
    /// cost when the account does not exist, so both answers take similar time.
    ///
    /// # Errors
    /// Only on an internal failure of the blocking pool.
    pub async fn verify(
        &self,
        password: &str,
        stored_hash: Option<String>,
    ) -> Result<bool, AuthError> {
        let exists = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| self.dummy_hash.clone());
        let plain = password.to_owned();
        // A password over bcrypt's 72 bytes cannot match any stored hash; it is
        // still checked (truncated) so the answer takes the usual time.
        let matches = self
            .run(move || bcrypt::verify(plain.as_bytes(), &hash).unwrap_or(false))
            .await?;
        Ok(exists && matches && password.len() <= MAX_PASSWORD_BYTES)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(AuthError::Busy {
                retry_after_secs: 1,
            });
        }
        let waiting = Waiting(&self.waiting);
        let _permit = self.permits.acquire().await.map_err(AuthError::internal)?;
        drop(waiting);
        tokio::task::spawn_blocking(work)
            .await
            .map_err(AuthError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hasher = PasswordHasher::new(10);
        let password = Password::parse("correct horse").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hasher
            .verify("correct horse", Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher.verify("wrong horse", Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let hasher = PasswordHasher::new(10);
        assert!(!hasher.verify("anything at all", None).await.unwrap());
    }

    #[test]
    fn the_dummy_hash_is_a_valid_bcrypt_hash_of_the_configured_cost() {
        let hasher = PasswordHasher::new(11);
        assert!(hasher.dummy_hash.starts_with("$2b$11$"));
        assert_eq!(bcrypt::verify("x", &hasher.dummy_hash).ok(), Some(false));
    }
}
