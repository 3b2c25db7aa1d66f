//! Everything a handler may use, built once at start and shared read-only.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::rate_limit::SlidingWindow;
use crate::auth::Accounts;
use crate::config::Config;
use crate::db::Database;
use crate::vibe::VibePipeline;

const VIBE_WINDOW: Duration = Duration::from_secs(60);

pub struct AppState {
    pub config: Config,
    pub db: Database,
    pub accounts: Accounts,
    pub vibe: Arc<VibePipeline>,
    /// Vibe checks per user and minute, across the vibe endpoints and entry writes.
    pub vibe_checks_by_user: SlidingWindow,
    /// Summaries and mood buckets, kept until the user's entries change.
    pub answers: super::answer_cache::AnswerCache,
}

impl AppState {
    pub fn new(config: Config, db: Database, accounts: Accounts, vibe: VibePipeline) -> Self {
        let vibe_checks_by_user =
            SlidingWindow::new(config.vibe_checks_per_minute as usize, VIBE_WINDOW);
        Self {
            config,
            db,
            accounts,
            vibe: Arc::new(vibe),
            vibe_checks_by_user,
            answers: super::answer_cache::AnswerCache::default(),
        }
    }
}
