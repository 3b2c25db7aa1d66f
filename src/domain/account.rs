use super::time::Millis;

/// A user's account as storage returns it (never with its password hash).
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub created_at: Millis,
}

/// What checking a password needs: whose it is, and the stored hash.
#[derive(Clone)]
pub struct Credentials {
    pub user_id: String,
    pub email: String,
    pub password_hash: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}
