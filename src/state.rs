//! Everything a handler may use, built once at start and shared read-only.

use std::time::Duration;

use crate::auth::password::PasswordHasher;
use crate::auth::rate_limit::SlidingWindow;
use crate::auth::session::Sessions;
use crate::auth::token::TokenKeys;
use crate::config::Config;
use crate::db::Database;
use crate::vibe::VibePipeline;

const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
const FAILED_LOGINS_PER_EMAIL: usize = 5;
const FAILED_LOGINS_PER_ADDRESS: usize = 20;
const REGISTRATION_WINDOW: Duration = Duration::from_secs(60 * 60);
const REGISTRATIONS_PER_ADDRESS: usize = 10;
const VIBE_WINDOW: Duration = Duration::from_secs(60);

pub struct RateLimits {
    pub failed_logins_by_email: SlidingWindow,
    pub failed_logins_by_address: SlidingWindow,
    pub registrations_by_address: SlidingWindow,
    pub vibe_checks_by_user: SlidingWindow,
}

impl RateLimits {
    pub fn new(vibe_checks_per_minute: u32) -> Self {
        Self {
            failed_logins_by_email: SlidingWindow::new(FAILED_LOGINS_PER_EMAIL, LOGIN_WINDOW),
            failed_logins_by_address: SlidingWindow::new(FAILED_LOGINS_PER_ADDRESS, LOGIN_WINDOW),
            registrations_by_address: SlidingWindow::new(
                REGISTRATIONS_PER_ADDRESS,
                REGISTRATION_WINDOW,
            ),
            vibe_checks_by_user: SlidingWindow::new(vibe_checks_per_minute as usize, VIBE_WINDOW),
        }
    }
}

pub struct AppState {
    pub config: Config,
    pub db: Database,
    pub tokens: TokenKeys,
    pub sessions: Sessions,
    pub passwords: PasswordHasher,
    pub limits: RateLimits,
    pub vibe: VibePipeline,
}
