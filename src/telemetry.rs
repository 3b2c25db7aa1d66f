//! Logging setup: `RUST_LOG` filters, one line per event on stderr.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber.
///
/// # Errors
/// A `RUST_LOG` value that is not a valid filter.
pub fn init(rust_log: Option<&str>) -> Result<(), crate::config::ConfigError> {
    let filter = match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => EnvFilter::new("info"),
        Some(spec) => EnvFilter::try_new(spec).map_err(|e| crate::config::ConfigError {
            variable: "RUST_LOG",
            message: format!("'{spec}' is not a valid filter ({e})"),
        })?,
    };
    // A second call (tests) keeps the first subscriber, which is what we want.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    Ok(())
}
