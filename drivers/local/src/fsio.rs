//! File I/O with the guarantees the reference implementation lacks: atomic replacement,
//! optional fsync of file and directory, temp files that readers never mistake for data,
//! and an advisory lock per storage (local-storage-format §13, W1 and W4).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How hard writes are made to survive a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync every written file before it replaces the old one, and the directory after.
    #[default]
    Full,
    /// No fsync (like the Python SDK): a process crash loses nothing, a power loss may.
    Relaxed,
}

impl Durability {
    /// Reads `APIFY_LOCAL_DURABILITY` style values: `full` / `relaxed`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Some(Self::Full),
            "relaxed" => Some(Self::Relaxed),
            _ => None,
        }
    }
}

/// 8 characters of `[a-z0-9]` for temp-file names (not security relevant: `create_new`
/// makes a collision an error, never an overwrite).
fn temp_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut seed = [0u8; 8];
    let random = getrandom::fill(&mut seed).map(|()| u64::from_le_bytes(seed)).unwrap_or(0);
    let mut n = random ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..8)
        .map(|_| {
            let c = ALPHABET[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect()
}

/// `<final name>.<8 random>.tmp`: never ends in `.json`, so `*.json` readers skip it, and
/// never starts with the final name plus a known suffix.
fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.{}.tmp", temp_suffix()))
}

fn create_new(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The mode the reference implementation's files end up with.
        o.mode(0o600);
    }
    o.open(path)
}

/// fsyncs a directory so that renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes `dir/name` atomically: a temp file is written (and fsynced), then renamed over
/// the destination (and the directory fsynced). On error the temp file is removed and the
/// old file, if any, is untouched.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8], durability: Durability) -> io::Result<()> {
    let tmp = temp_path(dir, name);
    let result = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes)?;
        if durability == Durability::Full {
            f.sync_data()?;
        }
        drop(f);
        fs::rename(&tmp, dir.join(name))
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if durability == Durability::Full {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Writes many files into one directory, each atomically, with one directory fsync at the
/// end. Files are written in order; if one fails, the ones before it are in place and the
/// error says how many.
pub fn write_many<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    durability: Durability,
) -> Result<usize, (usize, io::Error)> {
    let mut done = 0;
    for (name, bytes) in files {
        let tmp = temp_path(dir, name);
        let result = (|| {
            let mut f = create_new(&tmp)?;
            f.write_all(bytes)?;
            if durability == Durability::Full {
                f.sync_data()?;
            }
            drop(f);
            fs::rename(&tmp, dir.join(name))
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err((done, e));
        }
        done += 1;
    }
    if durability == Durability::Full && done > 0 {
        sync_dir(dir).map_err(|e| (done, e))?;
    }
    Ok(done)
}

/// Removes a file; a missing file is not an error.
pub fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads a file; `None` if it does not exist.
pub fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// An exclusive advisory lock on one storage, held while it is open in this process.
/// The lock file lives outside the storage directories (`<root>/.locks/...`), where no
/// reader of the format looks.
#[derive(Debug)]
pub struct StorageLock {
    _file: File,
    path: PathBuf,
}

impl StorageLock {
    /// Takes the lock or fails at once if another process holds it.
    pub fn acquire(root: &Path, type_dir: &str, dir_name: &str) -> io::Result<Self> {
        let locks = root.join(".locks").join(type_dir);
        fs::create_dir_all(&locks)?;
        let path = locks.join(format!("{dir_name}.lock"));
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "storage {type_dir}/{dir_name} is in use by another process (lock {}); share storages between processes through the emulator (`apify-local serve`)",
                    path.display()
                ),
            )),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        for d in [Durability::Full, Durability::Relaxed] {
            write_atomic(dir.path(), "a.json", b"one", d).unwrap();
            write_atomic(dir.path(), "a.json", b"two", d).unwrap();
            assert_eq!(fs::read(dir.path().join("a.json")).unwrap(), b"two");
        }
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["a.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("a.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "a", b"old", Durability::Relaxed).unwrap();
        // A directory in the way makes the rename fail.
        fs::create_dir(dir.path().join("b")).unwrap();
        fs::write(dir.path().join("b/x"), b"").unwrap();
        assert!(write_atomic(dir.path(), "b", b"new", Durability::Relaxed).is_err());
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"old");
        let tmp = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(tmp, 0);
    }

    #[test]
    fn temp_names_never_look_like_data() {
        let p = temp_path(Path::new("/x"), "000000001.json");
        let s = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            s.starts_with("000000001.json.") && s.ends_with(".tmp") && s.len() == "000000001.json.".len() + 12,
            "{s}"
        );
        assert_ne!(temp_suffix(), temp_suffix());
    }

    #[test]
    fn a_second_lock_fails_fast() {
        let dir = tempfile::tempdir().unwrap();
        let first = StorageLock::acquire(dir.path(), "datasets", "default").unwrap();
        // File locks are per open file description: a second open in this process conflicts.
        let err = StorageLock::acquire(dir.path(), "datasets", "default").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(err.to_string().contains("in use by another process"), "{err}");
        drop(first);
        StorageLock::acquire(dir.path(), "datasets", "default").unwrap();
    }
}
