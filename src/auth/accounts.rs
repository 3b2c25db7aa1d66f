//! Accounts: registration, sign-in, password confirmation, password change and
//! deletion, each under the rate limits that keep passwords from being guessed.

use std::net::IpAddr;
use std::time::Duration;

use super::password::PasswordHasher;
use super::rate_limit::SlidingWindow;
use super::session::{AuthUser, Sessions};
use super::AuthError;
use crate::db::Database;
use crate::domain::{lookup_email, Account, Email, Password};

const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
const FAILED_LOGINS_PER_EMAIL: usize = 5;
const FAILED_LOGINS_PER_ADDRESS: usize = 20;
const REGISTRATION_WINDOW: Duration = Duration::from_secs(60 * 60);
const REGISTRATIONS_PER_ADDRESS: usize = 10;

struct Limits {
    failed_logins_by_email: SlidingWindow,
    failed_logins_by_address: SlidingWindow,
    registrations_by_address: SlidingWindow,
}

pub struct Accounts {
    db: Database,
    passwords: PasswordHasher,
    sessions: Sessions,
    limits: Limits,
}

impl Accounts {
    pub fn new(db: Database, passwords: PasswordHasher, sessions: Sessions) -> Self {
        Self {
            db,
            passwords,
            sessions,
            limits: Limits {
                failed_logins_by_email: SlidingWindow::new(FAILED_LOGINS_PER_EMAIL, LOGIN_WINDOW),
                failed_logins_by_address: SlidingWindow::new(
                    FAILED_LOGINS_PER_ADDRESS,
                    LOGIN_WINDOW,
                ),
                registrations_by_address: SlidingWindow::new(
                    REGISTRATIONS_PER_ADDRESS,
                    REGISTRATION_WINDOW,
                ),
            },
        }
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Counts a registration attempt from an address, before its body is read.
    ///
    /// # Errors
    /// `RateLimited` once the address has used its registrations for the hour.
    pub fn admit_registration(&self, address: IpAddr) -> Result<(), AuthError> {
        self.limits
            .registrations_by_address
            .hit(&address.to_string())
    }

    /// Creates the account and signs it in; returns the session token.
    ///
    /// # Errors
    /// `Store(EmailTaken)` when the email is registered; storage or hashing failures.
    pub async fn register(&self, email: &Email, password: &Password) -> Result<String, AuthError> {
        let hash = self.passwords.hash(password).await?;
        let account = self.db.users().create(email, hash).await?;
        self.sessions.start(&account.id).await
    }

    /// Refuses an address that has used up its failed logins, before its body is read.
    ///
    /// # Errors
    /// `RateLimited` with the wait.
    pub fn admit_login(&self, address: IpAddr) -> Result<(), AuthError> {
        self.limits
            .failed_logins_by_address
            .check(&address.to_string())
    }

    /// Signs in with an email and password; returns the session token.
    ///
    /// # Errors
    /// `RateLimited` once the email has used up its failed logins,
    /// `InvalidCredentials` for an unknown email or a wrong password.
    pub async fn login(
        &self,
        address: IpAddr,
        email: &str,
        password: &str,
    ) -> Result<String, AuthError> {
        let email = lookup_email(email);
        self.limits.failed_logins_by_email.check(&email)?;
        let credentials = self.db.users().credentials_by_email(&email).await?;
        let (user_id, stored_hash) = match credentials {
            Some(c) => (Some(c.user_id), Some(c.password_hash)),
            None => (None, None),
        };
        let verified = self.passwords.verify(password, stored_hash).await?;
        match user_id.filter(|_| verified) {
            Some(user_id) => {
                self.limits.failed_logins_by_email.clear(&email);
                self.sessions.start(&user_id).await
            }
            None => {
                self.record_failed_login(address, &email);
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// The signed-in user's account. A token can outlive its account; that is a
    /// dead session, not a missing page.
    ///
    /// # Errors
    /// `Unauthenticated` when the account is gone.
    pub async fn account(&self, user: &AuthUser) -> Result<Account, AuthError> {
        self.db
            .users()
            .find(&user.id)
            .await?
            .ok_or(AuthError::Unauthenticated)
    }

    /// Changes the password once the current one is confirmed: every other session
    /// ends; returns the token of the caller's fresh session.
    ///
    /// # Errors
    /// As [`Accounts::confirm_password`], and storage or hashing failures.
    pub async fn change_password(
        &self,
        user: &AuthUser,
        address: IpAddr,
        current: &str,
        new_password: &Password,
    ) -> Result<String, AuthError> {
        self.confirm_password(user, address, current).await?;
        let hash = self.passwords.hash(new_password).await?;
        self.sessions
            .restart_with_new_password(&user.id, hash)
            .await
    }

    /// Deletes the account and everything in it, once the password is confirmed.
    ///
    /// # Errors
    /// As [`Accounts::confirm_password`], and storage failures.
    pub async fn delete(
        &self,
        user: &AuthUser,
        address: IpAddr,
        password: &str,
    ) -> Result<(), AuthError> {
        self.confirm_password(user, address, password).await?;
        self.db.users().delete(&user.id).await?;
        self.sessions.end_all(&user.id).await
    }

    /// Checks the signed-in user's password under the login rate limits; a wrong one
    /// counts as a failed login for the account's email and the client address.
    async fn confirm_password(
        &self,
        user: &AuthUser,
        address: IpAddr,
        password: &str,
    ) -> Result<(), AuthError> {
        let credentials = self
            .db
            .users()
            .credentials_by_id(&user.id)
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        self.admit_login(address)?;
        self.limits
            .failed_logins_by_email
            .check(&credentials.email)?;
        if self
            .passwords
            .verify(password, Some(credentials.password_hash))
            .await?
        {
            Ok(())
        } else {
            self.record_failed_login(address, &credentials.email);
            Err(AuthError::InvalidCredentials)
        }
    }

    fn record_failed_login(&self, address: IpAddr, email: &str) {
        self.limits.failed_logins_by_email.record(email);
        self.limits
            .failed_logins_by_address
            .record(&address.to_string());
    }
}
