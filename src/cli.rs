//! The command line: `serene` (serve), `serene healthcheck`, `serene backup [--keys] <file>`,
//! `serene rotate-master-key <file>`, `--help` and `--version`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Config;
use crate::startup::{shutdown_signal, Application};

const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(2);

const HELP: &str = "\
Serene: the backend of a private, AI-assisted mood journal.

Usage:
  serene                 serve the API (the default; also `serene serve`)
  serene healthcheck     exit 0 when GET /api/health on HOST:PORT answers 200 within 2 s
  serene backup <file>   copy the live database (the data, no keys) to <file> (never overwrites)
  serene backup --keys <file>
                         copy the key store to <file>; keep it apart from data backups
  serene rotate-master-key <file>
                         with the server stopped: re-wrap every data key under a new
                         master key, written to <file> (or read from it if it exists)
  serene --help          show this help
  serene --version       show the version

Configuration comes from the environment; see README.md and .env.example.";

pub fn run(args: Vec<String>) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => serve(),
        ["healthcheck"] => healthcheck(),
        ["backup", "--keys", file] => backup(Path::new(file), true),
        ["backup", file] => backup(Path::new(file), false),
        ["rotate-master-key", file] => rotate(Path::new(file)),
        ["--help" | "-h" | "help"] => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        ["--version" | "-V"] => {
            println!("serene {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("serene: unknown arguments {args:?}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

fn load_config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|err| {
        eprintln!("serene: configuration error: {err}");
        ExitCode::from(78)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| {
            eprintln!("serene: cannot start the runtime: {err}");
            ExitCode::FAILURE
        })
}

fn serve() -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Err(err) = crate::telemetry::init(std::env::var("RUST_LOG").ok().as_deref()) {
        eprintln!("serene: configuration error: {err}");
        return ExitCode::from(78);
    }
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        match Application::build(config).await {
            Ok(app) => {
                app.run_until(shutdown_signal()).await;
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("serene: cannot start: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Asks the server configured by `HOST`/`PORT` for its health.
fn healthcheck() -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let host = match config.host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(host, config.port);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let checked = runtime
        .block_on(async { tokio::time::timeout(HEALTHCHECK_TIMEOUT, health_status(addr)).await });
    match checked {
        Ok(Ok(200)) => ExitCode::SUCCESS,
        Ok(Ok(status)) => {
            eprintln!("serene: health check answered {status}");
            ExitCode::FAILURE
        }
        Ok(Err(err)) => {
            eprintln!("serene: health check failed: {err}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("serene: health check timed out");
            ExitCode::FAILURE
        }
    }
}

/// The status `GET /api/health` answers at `addr` (also used by the load benchmark).
///
/// # Errors
/// The connection or the exchange fails.
pub async fn health_status(
    addr: SocketAddr,
) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
    use http_body_util::Empty;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = http::Request::get("/api/health")
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<bytes::Bytes>::new())?;
    let response = sender.send_request(request).await?;
    Ok(response.status().as_u16())
}

/// A consistent copy of the live database (or, with `keys`, of the key store)
/// through SQLite's online backup API.
fn backup(target: &Path, keys: bool) -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let (source, what, advice) = if keys {
        (
            &config.keys_database_path,
            "the key store ",
            "; store it apart from the data backups",
        )
    } else {
        (&config.database_path, "", "")
    };
    match copy_database(source, target) {
        Ok(()) => {
            println!(
                "serene: backed up {what}{} to {}{advice}",
                source.display(),
                target.display()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("serene: {what}backup failed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn rotate(new_key_file: &Path) -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(rotate_master_key(&config, new_key_file)) {
        Ok(message) => {
            println!("serene: {message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("serene: rotation failed: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Re-wraps every data key under a new master key in one transaction. The new key
/// is read from `new_key_file` if it exists, else generated into it. A generated
/// default key file (no `MASTER_KEY`/`MASTER_KEY_FILE`) is replaced by the new key.
///
/// # Errors
/// No key store, a current master key that does not open it, or a file problem.
pub async fn rotate_master_key(config: &Config, new_key_file: &Path) -> Result<String, String> {
    use crate::auth::master_key;
    use crate::config::MasterKeySource;
    use crate::crypto::Key;

    if !config.keys_database_path.exists() {
        return Err(format!(
            "no key store at {}",
            config.keys_database_path.display()
        ));
    }
    if matches!(&config.master_key, MasterKeySource::Generated(path) if !path.exists()) {
        return Err("no master key to rotate from: set MASTER_KEY or MASTER_KEY_FILE".into());
    }
    let current = master_key::load(&config.master_key).map_err(|e| e.to_string())?;
    let keys = crate::db::KeyStore::open(&config.keys_database_path, current)
        .await
        .map_err(|e| e.to_string())?;
    let new_key = if new_key_file.exists() {
        let text = std::fs::read_to_string(new_key_file)
            .map_err(|e| format!("{}: {e}", new_key_file.display()))?;
        Key::from_base64(&text).map_err(|e| format!("{}: {e}", new_key_file.display()))?
    } else {
        let key = Key::generate().map_err(|e| e.to_string())?;
        master_key::write_key_file(new_key_file, &key)
            .map_err(|e| format!("{}: {e}", new_key_file.display()))?;
        key
    };
    let rewrapped = keys
        .rotate(new_key.clone())
        .await
        .map_err(|e| e.to_string())?;
    if let MasterKeySource::Generated(default_file) = &config.master_key {
        let staged = default_file.with_extension("key.new");
        let _ = std::fs::remove_file(&staged);
        master_key::write_key_file(&staged, &new_key)
            .and_then(|()| std::fs::rename(&staged, default_file))
            .map_err(|e| {
                format!(
                    "keys re-wrapped, but {} could not be replaced ({e}): start with MASTER_KEY_FILE={}",
                    default_file.display(),
                    new_key_file.display()
                )
            })?;
        return Ok(format!(
            "re-wrapped {rewrapped} data keys; the new master key is in {} and replaced {}",
            new_key_file.display(),
            default_file.display()
        ));
    }
    Ok(format!(
        "re-wrapped {rewrapped} data keys; start the server with MASTER_KEY_FILE={} (or its content as MASTER_KEY)",
        new_key_file.display()
    ))
}

fn copy_database(source: &Path, target: &Path) -> Result<(), String> {
    if target.exists() {
        return Err(format!(
            "{} already exists; choose a new file",
            target.display()
        ));
    }
    if !source.exists() {
        return Err(format!("no database at {}", source.display()));
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(source, flags).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let partial = PathBuf::from(format!("{}.partial", target.display()));
    let _ = std::fs::remove_file(&partial);
    crate::db::files::create_private_file(&partial)
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    conn.backup(rusqlite::MAIN_DB, &partial, None)
        .map_err(|e| e.to_string())?;
    // Rename only a complete copy, and never over a file that appeared meanwhile.
    std::fs::hard_link(&partial, target).map_err(|e| format!("{}: {e}", target.display()))?;
    let _ = std::fs::remove_file(&partial);
    Ok(())
}
