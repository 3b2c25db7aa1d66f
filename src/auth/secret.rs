//! The JWT signing secret: given by `JWT_SECRET`, or generated once and kept in
//! the data directory (mode 0600) so sessions survive a restart.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::config::SecretSource;

const GENERATED_SECRET_BYTES: usize = 32;

/// Loads or creates the secret.
///
/// # Errors
/// The secret file cannot be read or created, or holds less than 32 bytes.
pub fn load(source: &SecretSource) -> io::Result<Vec<u8>> {
    match source {
        SecretSource::Given(secret) => Ok(secret.clone()),
        SecretSource::File(path) => load_or_create(path),
    }
}

fn load_or_create(path: &Path) -> io::Result<Vec<u8>> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.trim().as_bytes().to_vec();
            if secret.len() < GENERATED_SECRET_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} holds a secret shorter than 32 bytes", path.display()),
                ));
            }
            Ok(secret)
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => create(path),
        Err(err) => Err(err),
    }
}

fn create(path: &Path) -> io::Result<Vec<u8>> {
    let mut raw = [0u8; GENERATED_SECRET_BYTES];
    getrandom::fill(&mut raw).map_err(|e| io::Error::other(e.to_string()))?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(hex.as_bytes())?;
    file.sync_all()?;
    tracing::warn!(
        path = %path.display(),
        "JWT_SECRET is not set: generated a random secret and stored it; set JWT_SECRET to manage it yourself"
    );
    Ok(hex.into_bytes())
}
