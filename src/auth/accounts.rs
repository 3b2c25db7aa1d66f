//! Accounts: registration, sign-in, password confirmation, password change and
//! deletion, each under the rate limits that keep passwords from being guessed.
//!
//! Every password check takes its places before bcrypt runs: one of the few an
//! address may have in flight, then a place in the address's and the email's
//! failed-login windows. So parallel attempts count as they start (the sixth
//! concurrent guess for one email is refused at once), a flood from one address
//! holds at most [`IN_FLIGHT_PER_ADDRESS`] places in the shared bcrypt queue, and a
//! success gives its places back.

use std::net::IpAddr;
use std::time::Duration;

use super::in_flight::{address_key, InFlight};
use super::password::PasswordHasher;
use super::rate_limit::{Reservation, SlidingWindow};
use super::session::{AuthUser, Sessions};
use super::AuthError;
use crate::db::{Database, KeyStore};
use crate::domain::{lookup_email, Account, Email, Password};

/// Password checks one address may have queued or running at once.
pub const IN_FLIGHT_PER_ADDRESS: usize = 1;
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
    keys: KeyStore,
    passwords: PasswordHasher,
    sessions: Sessions,
    limits: Limits,
    in_flight: InFlight,
}

impl Accounts {
    pub fn new(
        db: Database,
        keys: KeyStore,
        passwords: PasswordHasher,
        sessions: Sessions,
    ) -> Self {
        Self {
            db,
            keys,
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
            in_flight: InFlight::new(IN_FLIGHT_PER_ADDRESS),
        }
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The key store, for the data keys that seal each user's entries.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Takes a place for a registration from an address, before its body is read.
    /// The caller keeps it for an attempt that counts, or drops it to give it back.
    ///
    /// # Errors
    /// `RateLimited` once the address has used its registrations for the hour.
    pub fn admit_registration(&self, address: IpAddr) -> Result<Reservation<'_>, AuthError> {
        self.limits
            .registrations_by_address
            .reserve(&address_key(address))
    }

    /// Creates the account and signs it in; returns the session token.
    ///
    /// # Errors
    /// `Store(EmailTaken)` when the email is registered; storage or hashing failures.
    pub async fn register(
        &self,
        place: Reservation<'_>,
        address: IpAddr,
        email: &Email,
        password: &Password,
    ) -> Result<String, AuthError> {
        // Refused here (in flight, queue full), the attempt gives its place back.
        let _in_flight = self.in_flight.enter(address)?;
        let hash = self.passwords.hash(password).await?;
        place.keep();
        // The key first: an account never exists without one, and a key without an
        // account (the account could not be made) is shredded, or harmless if not.
        let id = uuid::Uuid::new_v4().to_string();
        self.keys.issue(&id).await?;
        let account = match self.db.users().create_with_id(&id, email, hash).await {
            Ok(account) => account,
            Err(err) => {
                if let Err(shred) = self.keys.shred(&id).await {
                    tracing::warn!(error = %shred, "the key of an account never made was kept");
                }
                return Err(err.into());
            }
        };
        self.sessions.start(&account.id).await
    }

    /// Refuses an address that has used up its failed logins, before its body is read.
    ///
    /// # Errors
    /// `RateLimited` with the wait.
    pub fn admit_login(&self, address: IpAddr) -> Result<(), AuthError> {
        self.limits
            .failed_logins_by_address
            .check(&address_key(address))
    }

    /// Signs in with an email and password; returns the session token.
    ///
    /// # Errors
    /// `RateLimited` when the address has attempts in flight to its cap or either
    /// window is full, `Busy` when the bcrypt queue is full, `InvalidCredentials`
    /// for an unknown email or a wrong password.
    pub async fn login(
        &self,
        address: IpAddr,
        email: &str,
        password: &str,
    ) -> Result<String, AuthError> {
        let _in_flight = self.in_flight.enter(address)?;
        let by_address = self
            .limits
            .failed_logins_by_address
            .reserve(&address_key(address))?;
        // Only a well-formed email can name an account, so only one gets a window.
        let email = Email::parse(&lookup_email(email)).ok();
        let by_email = match &email {
            Some(email) => Some(self.limits.failed_logins_by_email.reserve(email.as_str())?),
            None => None,
        };
        let credentials = match &email {
            Some(email) => self.db.users().credentials_by_email(email.as_str()).await?,
            None => None,
        };
        let (user_id, stored_hash) = match credentials {
            Some(c) => (Some(c.user_id), Some(c.password_hash)),
            None => (None, None),
        };
        let verified = self.passwords.verify(password, stored_hash).await?;
        // An account whose key was shredded (its deletion, seen from an older backup
        // of the data) answers exactly like an unknown email.
        let keyed = match &user_id {
            Some(id) if verified => self.keys.data_key(id).await?.is_some(),
            _ => false,
        };
        match (user_id.filter(|_| verified && keyed), email) {
            (Some(user_id), Some(email)) => {
                drop((by_address, by_email));
                self.limits.failed_logins_by_email.clear(email.as_str());
                self.sessions.start(&user_id).await
            }
            _ => {
                by_address.keep();
                if let Some(by_email) = by_email {
                    by_email.keep();
                }
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
        // Doomed first: if the rows go but shredding is cut short, the next start
        // finishes it; if the rows stay, the key is kept.
        self.keys.doom(&user.id).await?;
        if let Err(err) = self.db.users().delete(&user.id).await {
            // The rows stay, so the key must too; if even this fails, the next
            // start finishes the deletion the user asked for.
            if let Err(undo) = self.keys.undoom(&user.id).await {
                tracing::error!(error = %undo, "deletion failed half-way; it is finished at the next start");
            }
            return Err(err.into());
        }
        if let Err(err) = self.keys.shred(&user.id).await {
            tracing::error!(error = %err, "the data key of a deleted account is shredded at the next start");
        }
        if let Err(err) = self.db.users().scrub_deleted().await {
            tracing::warn!(error = %err, "deleted text stays in free pages until the next merge");
        }
        // The sessions' rows went with the account; this clears the mirror.
        if let Err(err) = self.sessions.end_all(&user.id).await {
            tracing::warn!(error = %err, "sessions of a deleted account: rows not confirmed gone");
        }
        Ok(())
    }

    /// Checks the signed-in user's password on the login path; a wrong one counts
    /// as a failed login for the account's email and the client address.
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
        let _in_flight = self.in_flight.enter(address)?;
        let by_address = self
            .limits
            .failed_logins_by_address
            .reserve(&address_key(address))?;
        let by_email = self
            .limits
            .failed_logins_by_email
            .reserve(credentials.email.as_str())?;
        if self
            .passwords
            .verify(password, Some(credentials.password_hash))
            .await?
        {
            Ok(())
        } else {
            by_address.keep();
            by_email.keep();
            Err(AuthError::InvalidCredentials)
        }
    }
}
