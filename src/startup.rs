//! Binding, the accept loop and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::api::{self, service, AppState, Router};
use crate::auth::master_key::{self, MasterKeyError};
use crate::auth::password::PasswordHasher;
use crate::auth::secret;
use crate::auth::token::TokenKeys;
use crate::auth::{Accounts, Sessions};
use crate::config::Config;
use crate::db::{Database, KeyStore, KeyStoreError, OpenError, StoreError};
use crate::http::protocol_errors::ProtocolErrors;
use crate::vibe;

/// In-flight requests get this long to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after a failed `accept()` (for example, too many open files).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
const READER_CONNECTIONS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] OpenError),
    #[error("cannot read or create the JWT secret: {0}")]
    Secret(std::io::Error),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    #[error("cannot read the accounts for the key store: {0}")]
    Accounts(StoreError),
    #[error("the upgrade to encrypted entries failed: {0}")]
    Upgrade(StoreError),
    #[error("the upgrade to encrypted entries stopped after {0} batches, as asked")]
    UpgradeStopped(usize),
    #[error("cannot load sessions: {0}")]
    Sessions(StoreError),
    #[error("cannot set up the AI backend: {0}")]
    Vibe(vibe::BackendError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The key store, checked against the master key; keys issued to the accounts of
/// before keys existed (once), and shredding cut short by a crash finished.
async fn open_keys(config: &Config, db: &Database) -> Result<KeyStore, StartError> {
    let master = master_key::load(&config.master_key)?;
    let keys = KeyStore::open(&config.keys_database_path, master).await?;
    let users = db.users().all_ids().await.map_err(StartError::Accounts)?;
    if let Some(issued) = keys.issue_to_existing_users_once(users.clone()).await? {
        if issued > 0 {
            tracing::info!(
                issued,
                "issued data keys to the accounts made before keys existed"
            );
        }
    }
    let existing: std::collections::HashSet<String> = users.into_iter().collect();
    let shredded = keys
        .settle_doomed(move |user| existing.contains(user))
        .await?;
    if shredded > 0 {
        tracing::warn!(shredded, "finished shredding the keys of deleted accounts");
    }
    Ok(keys)
}

/// Seals the replies written before encryption, a batch per transaction with
/// progress in the log; an interrupted upgrade resumes at the next start. Then the
/// WAL is checkpointed and emptied, so the old text stays in neither file.
async fn seal_old_replies(
    config: &Config,
    db: &Database,
    keys: &KeyStore,
) -> Result<(), StartError> {
    let pending = db
        .entries()
        .clear_replies()
        .await
        .map_err(StartError::Upgrade)?;
    let total: i64 = pending.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return Ok(());
    }
    tracing::warn!(
        replies = total,
        "sealing the AI replies written before encryption"
    );
    let (mut sealed, mut batches) = (0usize, 0usize);
    for (user, _) in pending {
        let Some(user_keys) = keys.entry_keys(&user).await? else {
            // Only a deleted account (seen in an older backup) has no key; its rows
            // cannot be sealed, nor ever read through Serene.
            tracing::warn!(user_id = %user, "replies of an account without a key are left as they are");
            continue;
        };
        loop {
            if config.upgrade_batches_before_stop == Some(batches) {
                return Err(StartError::UpgradeStopped(batches));
            }
            let done = db
                .entries()
                .seal_clear_replies(&user_keys, config.upgrade_batch_rows)
                .await
                .map_err(StartError::Upgrade)?;
            if done == 0 {
                break;
            }
            sealed += done;
            batches += 1;
            tracing::info!(sealed, of = total, "sealing replies");
        }
    }
    db.checkpoint()
        .await
        .map_err(|e| StartError::Upgrade(e.into()))?;
    tracing::warn!(sealed, "sealed the AI replies written before encryption");
    Ok(())
}

pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
    router: Arc<Router>,
}

impl Application {
    /// Opens the database, loads secrets and binds the listener (port 0 picks a free port).
    ///
    /// # Errors
    /// Anything that keeps the server from starting, phrased for the operator.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        Self::build_with_router(config, api::router()).await
    }

    /// As [`Application::build`], with a route table of the caller's (tests add routes).
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_with_router(config: Config, router: Router) -> Result<Self, StartError> {
        let db = Database::open(&config.database_path, READER_CONNECTIONS).await?;
        if db.was_created() {
            tracing::warn!(
                database = %db.path().display(),
                "created a NEW, EMPTY database; if you expected existing journals, stop and check DATABASE_URL"
            );
        }
        let keys = open_keys(&config, &db).await?;
        seal_old_replies(&config, &db, &keys).await?;
        let secret = secret::load(&config.jwt_secret).map_err(StartError::Secret)?;
        let tokens = TokenKeys::new(&secret, config.jwt_ttl);
        let sessions = Sessions::load(db.clone(), tokens)
            .await
            .map_err(StartError::Sessions)?;
        let accounts = Accounts::new(
            db.clone(),
            keys,
            PasswordHasher::new(config.bcrypt_cost),
            sessions,
        );
        let vibe = vibe::pipeline_from_config(&config).map_err(StartError::Vibe)?;
        let addr = config.socket_addr();
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let state = AppState::new(config, db, accounts, vibe);
        Ok(Self {
            listener,
            state: Arc::new(state),
            router: Arc::new(router),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.socket_addr())
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> Arc<AppState> {
        Arc::clone(&self.state)
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish
    /// (for at most a grace period) and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let state = &self.state;
        let backend = state.vibe.backend();
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            address = %self.local_addr(),
            database = %state.db.path().display(),
            sqlite = Database::sqlite_version(),
            ai_backend = backend.name(),
            ai_model = backend.model().unwrap_or("-"),
            guard_model = state.vibe.classifier_name().unwrap_or("off"),
            "Serene is listening"
        );
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.state.config.header_read_timeout)
            .max_headers(service::HYPER_MAX_HEADERS)
            .keep_alive(true);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::error!(error = %err, "accept failed; retrying");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let state = Arc::clone(&self.state);
            let router = Arc::clone(&self.router);
            let service = service_fn(move |request| {
                service::handle(Arc::clone(&state), Arc::clone(&router), peer, request)
            });
            let stream = ProtocolErrors::new(stream, service::protocol_error_answer);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        tracing::info!("shutting down; waiting for in-flight requests");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections closed"),
            () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("grace period over; closing remaining connections"),
        }
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
