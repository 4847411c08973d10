//! Whether the inbox's file is still the one the inbox opened.
//!
//! SQLite keeps writing to a file that was deleted or replaced while it was open: every commit succeeds, and
//! what it holds is gone once the process ends. So before each group of writes the writer compares the file at
//! the inbox's path with the file it opened (device and inode), and refuses to write when they differ.

use std::fs::File;
use std::path::{Path, PathBuf};

/// The file the inbox opened, held open so that its identity cannot be reused by another file.
#[derive(Debug)]
pub(super) struct FileIdentity {
    path: PathBuf,
    file: File,
}

impl FileIdentity {
    /// The identity of the file `conn` writes to; `None` for an in-memory or temporary database, which has no
    /// path to check.
    pub(super) fn of(conn: &rusqlite::Connection) -> Option<Self> {
        let path = PathBuf::from(conn.path().filter(|path| !path.is_empty())?);
        let file = File::open(&path).ok()?;
        Some(Self { path, file })
    }

    /// The file's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the path still names the file that was opened.
    pub(super) fn is_intact(&self) -> bool {
        let Ok(at_path) = std::fs::metadata(&self.path) else {
            return false;
        };
        let Ok(opened) = self.file.metadata() else {
            return false;
        };
        same_file(&at_path, &opened)
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Elsewhere an open file cannot be deleted or replaced; a file at the path is the one opened.
#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    a.is_file()
}
