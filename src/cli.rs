//! The command line: `serene` (serve), `serene healthcheck`, `serene backup <file>`,
//! `--help` and `--version`.

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
  serene backup <file>   copy the live database to <file> (never overwrites)
  serene --help          show this help
  serene --version       show the version

Configuration comes from the environment; see README.md and .env.example.";

pub fn run(args: Vec<String>) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => serve(),
        ["healthcheck"] => healthcheck(),
        ["backup", file] => backup(Path::new(file)),
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

/// A consistent copy of the live database through SQLite's online backup API.
fn backup(target: &Path) -> ExitCode {
    let config = match load_config() {
        Ok(config) => config,
        Err(code) => return code,
    };
    match copy_database(&config.database_path, target) {
        Ok(()) => {
            println!(
                "serene: backed up {} to {}",
                config.database_path.display(),
                target.display()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("serene: backup failed: {message}");
            ExitCode::FAILURE
        }
    }
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
