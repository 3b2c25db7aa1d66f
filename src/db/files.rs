//! Files that hold journals are private: whatever the umask, the data directory
//! Serene creates is `0700`, and the database (SQLite gives its WAL and SHM the
//! database file's mode), backups and their partial copies are `0600`.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};

/// Creates `dir` and any missing parents, owner-only; an existing directory is left as it is.
///
/// # Errors
/// The directory cannot be created.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir)
}

/// Creates an empty file readable by its owner only, unless it exists already.
///
/// # Errors
/// The file cannot be created.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Whether users other than the owner may read or write the file.
pub fn is_open_to_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        std::fs::metadata(path).is_ok_and(|m| m.mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}
