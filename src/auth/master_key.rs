//! The master key, which wraps every user's data key: from `MASTER_KEY`, from the
//! file `MASTER_KEY_FILE` names, or generated once into the data directory.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use crate::config::MasterKeySource;
use crate::crypto::Key;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("MASTER_KEY_FILE: cannot read {path}: {source}")]
    Unreadable { path: String, source: io::Error },
    #[error("MASTER_KEY_FILE: {path} does not hold the base64 of 32 bytes")]
    Malformed { path: String },
    #[error("cannot create the master key file {path}: {source}")]
    Create { path: String, source: io::Error },
    #[error("the master key file {path} holds no valid key; restore it, or set MASTER_KEY or MASTER_KEY_FILE")]
    GeneratedMalformed { path: String },
    #[error("cannot read the master key file {path}: {source}")]
    GeneratedUnreadable { path: String, source: io::Error },
}

/// Loads the master key, generating the default file when nothing is configured.
///
/// # Errors
/// A named file that is missing or malformed (never replaced by a new key), or
/// a default file that cannot be created.
pub fn load(source: &MasterKeySource) -> Result<Key, MasterKeyError> {
    match source {
        MasterKeySource::Given(key) => Ok(key.clone()),
        MasterKeySource::File(path) => {
            let shown = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|source| MasterKeyError::Unreadable {
                    path: shown.clone(),
                    source,
                })?;
            Key::from_base64(&text).map_err(|_| MasterKeyError::Malformed { path: shown })
        }
        MasterKeySource::Generated(path) => match std::fs::read_to_string(path)
            .map(zeroize::Zeroizing::new)
        {
            Ok(text) => Key::from_base64(&text).map_err(|_| MasterKeyError::GeneratedMalformed {
                path: path.display().to_string(),
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => create(path),
            Err(source) => Err(MasterKeyError::GeneratedUnreadable {
                path: path.display().to_string(),
                source,
            }),
        },
    }
}

fn create(path: &Path) -> Result<Key, MasterKeyError> {
    let failed = |source: io::Error| MasterKeyError::Create {
        path: path.display().to_string(),
        source,
    };
    let key = Key::generate().map_err(|e| failed(io::Error::other(e.to_string())))?;
    write_key_file(path, &key).map_err(failed)?;
    tracing::warn!(
        path = %path.display(),
        "MASTER_KEY is not set: generated a master key beside the data; keep a copy OUTSIDE \
         the data volume (for example a Docker secret passed as MASTER_KEY_FILE), because \
         a backup that holds the data and this key together protects nothing"
    );
    Ok(key)
}

/// Writes a new key file, owner-only, whole or not at all (written beside it,
/// synced, then linked into place); an existing file is never overwritten.
///
/// # Errors
/// The file exists or cannot be written.
pub fn write_key_file(path: &Path, key: &Key) -> io::Result<()> {
    let mut staged = path.as_os_str().to_owned();
    staged.push(format!(".{}.partial", std::process::id()));
    let staged = std::path::PathBuf::from(staged);
    let _ = std::fs::remove_file(&staged);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&staged).and_then(|mut file| {
        file.write_all(key.to_base64().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&staged, path));
    let _ = std::fs::remove_file(&staged);
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_kept_and_read_back_the_same() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("master.key");
        let source = MasterKeySource::Generated(path.clone());
        let first = load(&source).expect("created");
        let again = load(&source).expect("read");
        assert_eq!(first.as_bytes(), again.as_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_named_file_that_is_missing_or_malformed_is_an_error_never_a_new_key() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("nope.key");
        assert!(matches!(
            load(&MasterKeySource::File(missing.clone())),
            Err(MasterKeyError::Unreadable { .. })
        ));
        assert!(!missing.exists());
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "not a key").expect("write");
        assert!(matches!(
            load(&MasterKeySource::File(bad)),
            Err(MasterKeyError::Malformed { .. })
        ));
        let broken_default = dir.path().join("master.key");
        std::fs::write(&broken_default, "garbage").expect("write");
        assert!(matches!(
            load(&MasterKeySource::Generated(broken_default)),
            Err(MasterKeyError::GeneratedMalformed { .. })
        ));
    }
}
