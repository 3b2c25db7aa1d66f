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
use crate::db::{Database, EntryKeys, KeyStore, KeyStoreError, OpenError, StoreError};
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
    #[error(
        "the master key file {key} is missing but the key store {store} exists: restore the \
         file, or set MASTER_KEY or MASTER_KEY_FILE (a new key would open nothing)"
    )]
    MasterKeyMissing { key: String, store: String },
    #[error(
        "KEYS_DATABASE_URL: the key store {store} does not belong to this database (DATABASE_URL); \
         check both point at the files that were used together"
    )]
    NotPaired { store: String },
    #[error("KEYS_DATABASE_URL names the database file itself; the keys must live apart")]
    SameFile,
    #[error("the upgrade to encrypted entries failed: {0}")]
    Upgrade(StoreError),
    #[error("the upgrade to encrypted entries found no key for account {0} in the key store; restore the key store that belongs to this data file")]
    UpgradeKey(String),
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

/// The key store, checked against the master key and against this data file:
/// both carry the same pairing id, so a wrong, new or missing key store (or data
/// file) stops the start instead of silently issuing new keys. Then deletions cut
/// short are finished: a doomed key is final, and an account without a key (its
/// deletion seen from an older backup of the data) is removed with its entries
/// and sessions.
async fn open_keys(config: &Config, db: &Database) -> Result<KeyStore, StartError> {
    if let crate::config::MasterKeySource::Generated(path) = &config.master_key {
        if !path.exists() && crate::db::keystore::exists(&config.keys_database_path) {
            return Err(StartError::MasterKeyMissing {
                key: path.display().to_string(),
                store: config.keys_database_path.display().to_string(),
            });
        }
    }
    let master = master_key::load(&config.master_key)?;
    let keys = KeyStore::open(&config.keys_database_path, master).await?;
    if keys.was_created() {
        tracing::warn!(
            key_store = %keys.path().display(),
            "created a NEW, EMPTY key store; if accounts exist, stop and check KEYS_DATABASE_URL"
        );
    }
    if same_file(db.path(), keys.path()) {
        return Err(StartError::SameFile);
    }
    pair(db, &keys).await?;
    finish_deletions(db, &keys).await?;
    Ok(keys)
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

const PAIRING: &str = "key_store_pairing";

async fn pair(db: &Database, keys: &KeyStore) -> Result<(), StartError> {
    let data_pairing = db.meta(PAIRING).await.map_err(StartError::Accounts)?;
    let store_pairing = keys.pairing().await?;
    let mismatch = || StartError::NotPaired {
        store: keys.path().display().to_string(),
    };
    match (data_pairing, store_pairing) {
        (Some(data), Some((store, _))) if data == store => keys.confirm_pairing().await?,
        (Some(_), _) => return Err(mismatch()),
        (None, Some((_, true))) => return Err(mismatch()),
        (None, pending) => {
            // A data file from before keys (or new), and a store new or paired with
            // it half-way: every account gets a key, then both files are told.
            let id = match pending {
                Some((id, false)) => id,
                _ => keys.begin_pairing().await?,
            };
            let users = db.users().all_ids().await.map_err(StartError::Accounts)?;
            let issued = keys.issue_missing(users).await?;
            if issued > 0 {
                tracing::info!(
                    issued,
                    "issued data keys to the accounts made before keys existed"
                );
            }
            db.set_meta(PAIRING, id)
                .await
                .map_err(StartError::Accounts)?;
            keys.confirm_pairing().await?;
        }
    }
    Ok(())
}

async fn finish_deletions(db: &Database, keys: &KeyStore) -> Result<(), StartError> {
    let keyed: std::collections::HashSet<String> = keys.keyed_users().await?.into_iter().collect();
    let users = db.users().all_ids().await.map_err(StartError::Accounts)?;
    let keyless: Vec<String> = users.into_iter().filter(|u| !keyed.contains(u)).collect();
    for user in &keyless {
        db.users()
            .delete(user)
            .await
            .map_err(StartError::Accounts)?;
    }
    let doomed = keys.doomed_users().await?;
    for user in &doomed {
        db.users()
            .delete(user)
            .await
            .map_err(StartError::Accounts)?;
        keys.shred(user).await?;
    }
    if !keyless.is_empty() || !doomed.is_empty() {
        db.users()
            .scrub_deleted()
            .await
            .map_err(StartError::Accounts)?;
        tracing::warn!(
            without_key = keyless.len(),
            deletion_unfinished = doomed.len(),
            "removed accounts whose deletion had not reached this data file"
        );
    }
    keys.checkpoint().await?;
    Ok(())
}

/// An account's keys for an upgrade at start. Every account still here has a key
/// (those without were removed before): one that does not open stops the start,
/// rather than serve an account unsealed or unindexed beside the others.
async fn upgrade_keys(keys: &KeyStore, user: String) -> Result<EntryKeys, StartError> {
    match keys.entry_keys(&user).await {
        Ok(Some(user_keys)) => Ok(user_keys),
        Ok(None) => Err(StartError::UpgradeKey(user)),
        Err(err) => Err(StartError::Keys(err)),
    }
}

const ENTRIES_SEALED: &str = "entries_sealed";

/// Seals the notes, tags and replies written before encryption and builds their
/// keyed index, a batch per transaction with progress in the log; an interrupted
/// upgrade resumes at the next start. Then the old text is scrubbed from the file:
/// `secure_delete` zeroed what the upgrade overwrote, `VACUUM` rewrites the file
/// from its live pages, and a checkpoint empties the WAL. Only then does the file
/// record that nothing is in clear any more.
async fn seal_old_entries(
    config: &Config,
    db: &Database,
    keys: &KeyStore,
) -> Result<(), StartError> {
    let upgrade = |e: StoreError| StartError::Upgrade(e);
    if db.meta(ENTRIES_SEALED).await.map_err(upgrade)?.is_some() {
        db.forbid_clear_text();
        return Ok(());
    }
    let pending = db.entries().clear_entries().await.map_err(upgrade)?;
    let total: i64 = pending.iter().map(|(_, n)| n).sum();
    if total > 0 {
        tracing::warn!(
            entries = total,
            "sealing the entries written before encryption"
        );
    }
    let (mut sealed, mut batches) = (0usize, 0usize);
    for (user, _) in pending {
        let user_keys = upgrade_keys(keys, user).await?;
        let mut after = None;
        loop {
            if config.upgrade_batches_before_stop == Some(batches) {
                return Err(StartError::UpgradeStopped(batches));
            }
            let (done, last) = db
                .entries()
                .seal_clear_entries(&user_keys, after, config.upgrade_batch_rows)
                .await
                .map_err(upgrade)?;
            if done == 0 {
                break;
            }
            after = last;
            sealed += done;
            batches += 1;
            tracing::info!(sealed, of = total, "sealing entries");
        }
    }
    if total > 0 {
        tracing::warn!(
            sealed,
            "sealed the entries written before encryption; rewriting the file without the old text"
        );
    }
    db.vacuum().await.map_err(|e| upgrade(e.into()))?;
    db.set_meta(ENTRIES_SEALED, vec![1])
        .await
        .map_err(upgrade)?;
    db.checkpoint().await.map_err(|e| upgrade(e.into()))?;
    db.forbid_clear_text();
    Ok(())
}

/// Writes the search rows of the entries the schema upgrade took out of the index
/// (their seqs were renumbered to follow time; the rows are keyed, so only the
/// owner's key can write them again): a batch per transaction, with progress in
/// the log, resumed at the next start if interrupted. Nothing is served before
/// every entry is searchable again.
async fn index_waiting_entries(
    config: &Config,
    db: &Database,
    keys: &KeyStore,
) -> Result<(), StartError> {
    let upgrade = |e: StoreError| StartError::Upgrade(e);
    let pending = db.entries().waiting_for_index().await.map_err(upgrade)?;
    let total: i64 = pending.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return Ok(());
    }
    tracing::warn!(entries = total, "writing the search index again");
    let (mut indexed, mut batches) = (0usize, 0usize);
    for (user, _) in pending {
        let user_keys = upgrade_keys(keys, user).await?;
        loop {
            if config.upgrade_batches_before_stop == Some(batches) {
                return Err(StartError::UpgradeStopped(batches));
            }
            let (done, unreadable) = db
                .entries()
                .index_waiting(&user_keys, config.upgrade_batch_rows)
                .await
                .map_err(upgrade)?;
            for err in unreadable {
                tracing::error!(error = %err, "an entry does not open; it stays out of the search index");
            }
            if done == 0 {
                break;
            }
            indexed += done;
            batches += 1;
            tracing::info!(indexed, of = total, "writing the search index");
        }
    }
    db.tidy_search_index()
        .await
        .map_err(|e| upgrade(e.into()))?;
    tracing::warn!(indexed, "the search index is complete again");
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
        seal_old_entries(&config, &db, &keys).await?;
        index_waiting_entries(&config, &db, &keys).await?;
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
