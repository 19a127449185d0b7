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
    thread_local! {
        // Seeded once per thread: a syscall per temp file would cost more than the name.
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new({
            let mut seed = [0u8; 8];
            getrandom::fill(&mut seed).map(|()| u64::from_le_bytes(seed)).unwrap_or(0)
                ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        });
    }
    // SplitMix64 step.
    let mut n = STATE.with(|s| {
        let x = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    });
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
    write_renamed(dir, name, bytes, durability, |tmp, to| fs::rename(tmp, to))?;
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
    // One handle on the directory for the whole batch: each file is then named relative to
    // it instead of resolving the full path again.
    #[cfg(target_os = "linux")]
    let dir_fd = linux::open_dir(dir);
    for (name, bytes) in files {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &dir_fd
            && let Some(result) = linux::write_linked_at(fd, name, bytes, durability)
        {
            result.map_err(|e| (done, e))?;
            done += 1;
            crash_points::hit("a file of a batch written");
            continue;
        }
        if let Err(e) = write_new(dir, name, bytes, durability) {
            return Err((done, e));
        }
        done += 1;
        crash_points::hit("a file of a batch written");
    }
    if durability == Durability::Full && done > 0 {
        sync_dir(dir).map_err(|e| (done, e))?;
    }
    Ok(done)
}

/// Writes a file that must not exist yet, atomically: readers see it complete or not at
/// all, and an existing file is never replaced (`AlreadyExists`). On Linux the data goes to
/// an unnamed `O_TMPFILE` inode that `linkat` then names: one directory entry instead of a
/// temp name plus a rename, which halves the file system's work per new file.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8], durability: Durability) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if let Some(fd) = linux::open_dir(dir)
        && let Some(result) = linux::write_linked_at(&fd, name, bytes, durability)
    {
        return result;
    }
    // A hard link fails if the name exists, atomically; the temp name is then removed.
    // Where links are not supported, a check and a rename is the best there is.
    write_renamed(dir, name, bytes, durability, |tmp, to| match fs::hard_link(tmp, to) {
        Ok(()) => fs::remove_file(tmp),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => rename_no_replace(tmp, to),
    })
}

/// Writes a temp file (fsynced with `Full`) and gives it its name with `publish` (rename or
/// link); on error the temp file is removed and `dir/name` is untouched.
fn write_renamed(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durability: Durability,
    publish: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    stage(dir, name, bytes, durability)?.publish(publish)
}

/// Writes `dir/name`'s next content in full under a temp name (fsynced with `Full`), to be
/// put in place later by [`Staged::commit`]. Two files that must change together are both
/// staged before either is committed, so a crash leaves temp files that tell recovery on
/// the next open how far the pair got.
pub fn stage(dir: &Path, name: &str, bytes: &[u8], durability: Durability) -> io::Result<Staged> {
    let tmp = temp_path(dir, name);
    let written = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes)?;
        if durability == Durability::Full {
            f.sync_data()?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => Ok(Staged { tmp: Some(tmp), dest: dir.join(name) }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A file written under a temp name (see [`stage`]); dropped uncommitted, the temp file is
/// removed.
#[derive(Debug)]
#[must_use = "a staged file is removed unless committed"]
pub struct Staged {
    tmp: Option<PathBuf>,
    dest: PathBuf,
}

impl Staged {
    /// Renames the temp file over the destination (no directory fsync: see [`sync_dir`]).
    pub fn commit(self) -> io::Result<()> {
        self.publish(|tmp, to| fs::rename(tmp, to))
    }

    fn publish(mut self, publish: impl FnOnce(&Path, &Path) -> io::Result<()>) -> io::Result<()> {
        let Some(tmp) = self.tmp.take() else { return Ok(()) };
        publish(&tmp, &self.dest).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }

    /// Like [`Staged::commit`], but a temp file that cannot be renamed is left in place,
    /// for the recovery of the next open to finish the job.
    pub fn commit_or_keep(mut self) -> io::Result<()> {
        let Some(tmp) = self.tmp.take() else { return Ok(()) };
        fs::rename(&tmp, &self.dest)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Deterministic crash injection for the crash tests: armed with `n`, the process aborts
/// (as abruptly as `kill -9`: no destructor, no flush) at the `n`-th point it reaches. Each
/// point sits between two steps of a multi-file write; disarmed, a point costs one load.
#[doc(hidden)]
pub mod crash_points {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};

    static ARMED: AtomicU64 = AtomicU64::new(0);
    static REACHED: AtomicU64 = AtomicU64::new(0);

    /// Aborts at the `n`-th point from now (0 disarms).
    pub fn arm(n: u64) {
        REACHED.store(0, Ordering::SeqCst);
        ARMED.store(n, Ordering::SeqCst);
    }

    /// Points reached since [`arm`].
    pub fn reached() -> u64 {
        REACHED.load(Ordering::SeqCst)
    }

    #[inline]
    pub(crate) fn hit(name: &str) {
        let armed = ARMED.load(Ordering::Relaxed);
        if armed != 0 && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == armed {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "CRASH {name}");
            let _ = out.flush();
            std::process::abort();
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{AtFlags, CWD, Mode, OFlags, linkat, openat};
    use rustix::io::Errno;

    use super::Durability;

    /// Cleared once the file system (or a missing `/proc`) refuses the fast path.
    static SUPPORTED: AtomicBool = AtomicBool::new(true);
    /// Cleared once `linkat(AT_EMPTY_PATH)` is refused (kernels before 6.10 without
    /// `CAP_DAC_READ_SEARCH`); `/proc/self/fd` is the way then.
    static EMPTY_PATH: AtomicBool = AtomicBool::new(true);

    /// A handle on a directory to create files in, if the fast path may be used.
    pub(super) fn open_dir(dir: &Path) -> Option<OwnedFd> {
        if !SUPPORTED.load(Ordering::Relaxed) {
            return None;
        }
        openat(CWD, dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()
    }

    /// `None` when the fast path is not available here (the caller falls back).
    pub(super) fn write_linked_at(
        dir: &OwnedFd,
        name: &str,
        bytes: &[u8],
        durability: Durability,
    ) -> Option<io::Result<()>> {
        if !SUPPORTED.load(Ordering::Relaxed) {
            return None;
        }
        let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
        let fd = match openat(dir, ".", flags, Mode::from_bits_truncate(0o600)) {
            Ok(fd) => fd,
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOSYS) => {
                SUPPORTED.store(false, Ordering::Relaxed);
                return None;
            }
            Err(e) => return Some(Err(e.into())),
        };
        let mut file = File::from(fd);
        let result = (|| {
            file.write_all(bytes)?;
            if durability == Durability::Full {
                file.sync_data()?;
            }
            if EMPTY_PATH.load(Ordering::Relaxed) {
                match linkat(&file, "", dir, name, AtFlags::EMPTY_PATH) {
                    Ok(()) => return Ok(true),
                    Err(Errno::NOENT | Errno::PERM | Errno::INVAL) => EMPTY_PATH.store(false, Ordering::Relaxed),
                    Err(e) => return Err(io::Error::from(e)),
                }
            }
            // The documented way to name an O_TMPFILE inode without CAP_DAC_READ_SEARCH.
            let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
            match linkat(CWD, proc.as_str(), dir, name, AtFlags::SYMLINK_FOLLOW) {
                Ok(()) => Ok(true),
                Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => Ok(false),
                // No hard links on this file system: the slow path works there.
                Err(Errno::PERM | Errno::OPNOTSUPP | Errno::MLINK) => Ok(false),
                Err(e) => Err(io::Error::from(e)),
            }
        })();
        match result {
            Ok(true) => Some(Ok(())),
            Ok(false) => {
                SUPPORTED.store(false, Ordering::Relaxed);
                None
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// Atomic rewrites of files in one directory that reuse inodes instead of allocating one
/// per write and freeing the replaced one. The new bytes go into a spare file, which is
/// swapped with the old file in one step (`renameat2(RENAME_EXCHANGE)`, Linux); the old
/// inode becomes the next spare. A queue marking 10,000 requests handled then makes no
/// inode churn: on ext4 without a journal every freed inode is skipped by a linear scan for
/// minutes, so churn makes each later file creation slower.
///
/// Spares are named like temp files (`__spare__.json.<8>.tmp`, never read as data) and
/// removed when the `Rewriter` is dropped or, after a crash, when the storage is reopened.
/// Reads that may race with rewrites go through [`Rewriter::read`]: a spare is only
/// refilled once no reader can still hold the inode it had before the swap.
#[derive(Debug)]
pub struct Rewriter {
    dir: PathBuf,
    spares: std::sync::Mutex<Vec<PathBuf>>,
    swap: std::sync::RwLock<()>,
}

impl Rewriter {
    /// Spares kept per directory (more only under concurrent writers).
    const KEEP: usize = 4;

    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_owned(), spares: std::sync::Mutex::new(Vec::new()), swap: std::sync::RwLock::new(()) }
    }

    /// Reads `dir/name`; `None` if it does not exist.
    pub fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let _reading = self.swap.read().unwrap_or_else(|p| p.into_inner());
        read_if_exists(&self.dir.join(name))
    }

    /// Replaces (or creates) `dir/name` atomically, like [`write_atomic`].
    ///
    /// Inodes are reused only with `Durability::Full`, where the new bytes are on disk
    /// before the swap. Without fsync, a power loss could persist the swap but not the
    /// overwrite, and the file would come back holding another file's old bytes; a rename
    /// of a fresh inode cannot do that.
    pub fn write(&self, name: &str, bytes: &[u8], durability: Durability) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if durability == Durability::Full
            && let Some(result) = self.write_swapped(name, bytes, durability)
        {
            return result;
        }
        write_atomic(&self.dir, name, bytes, durability)
    }

    /// Replaces `dir/name`. Without fsync it is overwritten in place, with no inode
    /// allocated or freed: one `pwrite` of at most a page, which a killed process cannot
    /// leave half done, while in-process readers wait. A power loss may bring back the
    /// older version, as it may undo an unsynced rename: `Relaxed` promises no more. A
    /// file that would shrink, is linked elsewhere, or is missing is replaced as by
    /// [`Rewriter::write`].
    pub fn overwrite(&self, name: &str, bytes: &[u8], durability: Durability) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if durability == Durability::Relaxed && bytes.len() <= 4096 {
            use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
            // `O_NOFOLLOW`: a symlink put in place of the file is not written through.
            let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
            let opened = OpenOptions::new().write(true).custom_flags(nofollow).open(self.dir.join(name));
            if let Ok(file) = opened
                && let Ok(m) = file.metadata()
                && m.file_type().is_file()
                && m.nlink() == 1
                && m.len() <= bytes.len() as u64
            {
                let _no_readers = self.swap.write().unwrap_or_else(|p| p.into_inner());
                return file.write_all_at(bytes, 0);
            }
        }
        self.write(name, bytes, durability)
    }

    #[cfg(target_os = "linux")]
    fn write_swapped(&self, name: &str, bytes: &[u8], durability: Durability) -> Option<io::Result<()>> {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        use std::sync::atomic::AtomicBool;
        static SUPPORTED: AtomicBool = AtomicBool::new(true);
        if !SUPPORTED.load(Ordering::Relaxed) {
            return None;
        }
        let reused = self.spares.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (spare, file) = match reused {
            // Not `O_TRUNC`: ext4 flushes a file truncated to zero when it is closed, and
            // frees (and discards) its blocks; overwriting and then cutting the tail keeps
            // the blocks and leaves writeback to the kernel.
            Some(path) => match OpenOptions::new().write(true).open(&path) {
                Ok(f) => (path, f),
                Err(_) => {
                    // Gone (removed by hand?): forget it and write the plain way.
                    return None;
                }
            },
            None => {
                let path = temp_path(&self.dir, "__spare__.json");
                match create_new(&path) {
                    Ok(f) => (path, f),
                    Err(e) => return Some(Err(e)),
                }
            }
        };
        let target = self.dir.join(name);
        let result = (|| {
            let mut file = file;
            file.write_all(bytes)?;
            if file.metadata()?.len() > bytes.len() as u64 {
                file.set_len(bytes.len() as u64)?;
            }
            if durability == Durability::Full {
                file.sync_data()?;
            }
            drop(file);
            let swapped = {
                let _no_readers = self.swap.write().unwrap_or_else(|p| p.into_inner());
                renameat_with(CWD, &spare, CWD, &target, RenameFlags::EXCHANGE)
            };
            match swapped {
                Ok(()) => Ok(true),
                // No old file to swap with, or no support for swapping here: the spare
                // simply becomes the file.
                Err(e) => {
                    if matches!(e, Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) {
                        SUPPORTED.store(false, Ordering::Relaxed);
                    } else if e != Errno::NOENT {
                        return Err(io::Error::from(e));
                    }
                    fs::rename(&spare, &target).map(|()| false)
                }
            }
        })();
        let result = match result {
            Ok(true) => {
                // The swapped-out inode is reused only if nothing else names it: a hard link
                // (a backup made with `cp -al`) or a symlink put there by hand must never be
                // written through.
                let private = fs::symlink_metadata(&spare).is_ok_and(|m| {
                    use std::os::unix::fs::MetadataExt;
                    m.file_type().is_file() && m.nlink() == 1
                });
                let mut spares = self.spares.lock().unwrap_or_else(|p| p.into_inner());
                if private && spares.len() < Self::KEEP {
                    spares.push(spare);
                } else {
                    drop(spares);
                    let _ = fs::remove_file(&spare);
                }
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => {
                let _ = fs::remove_file(&spare);
                Err(e)
            }
        };
        Some(result.and_then(|()| if durability == Durability::Full { sync_dir(&self.dir) } else { Ok(()) }))
    }
}

impl Drop for Rewriter {
    fn drop(&mut self) {
        for spare in self.spares.get_mut().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = fs::remove_file(spare);
        }
    }
}

/// Renames `from` to `to` unless `to` exists (`AlreadyExists`): on Linux atomically
/// (`RENAME_NOREPLACE`), elsewhere with a check first.
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(Errno::INVAL | Errno::NOSYS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} already exists", to.display())));
    }
    fs::rename(from, to)
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
/// reader of the format looks. Its content is the storage's *intent note*: a line saying
/// which multi-file write is in flight, so that the next open can roll back one a crash
/// interrupted (see [`StorageLock::write_note`]).
#[derive(Debug)]
pub struct StorageLock {
    file: File,
    path: PathBuf,
}

impl StorageLock {
    /// Takes the lock or fails at once if another process holds it.
    pub fn acquire(root: &Path, type_dir: &str, dir_name: &str) -> io::Result<Self> {
        let locks = root.join(".locks").join(type_dir);
        fs::create_dir_all(&locks)?;
        let path = locks.join(format!("{dir_name}.lock"));
        let file = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { file, path }),
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

    /// Records the write about to start, as one line (one small write at offset 0, which a
    /// killed process cannot tear). With `Full` it is fsynced, so that a power loss cannot
    /// persist the write's files but not the note.
    pub fn write_note(&self, note: &str, durability: Durability) -> io::Result<()> {
        use std::io::Seek;
        let line = format!("{note}\n");
        let mut f = &self.file;
        f.seek(io::SeekFrom::Start(0))?;
        f.write_all(line.as_bytes())?;
        self.file.set_len(line.len() as u64)?;
        if durability == Durability::Full {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Clears the note once the write is committed. Not fsynced: a note that comes back
    /// after a power loss names a write that was committed, which recovery leaves alone.
    pub fn clear_note(&self) -> io::Result<()> {
        self.file.set_len(0)
    }

    /// The note's line, if any.
    pub fn read_note(&self) -> io::Result<Option<String>> {
        use std::io::{Read, Seek};
        let mut f = &self.file;
        f.seek(io::SeekFrom::Start(0))?;
        let mut buf = String::new();
        // A note is one short line; anything else (not UTF-8, no line end) was not ours.
        if f.take(4096).read_to_string(&mut buf).is_err() {
            return Ok(None);
        }
        Ok(buf.split_once('\n').map(|(line, _)| line.to_owned()))
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
    fn rewrites_reuse_spares_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        for d in [Durability::Full, Durability::Relaxed] {
            let w = Rewriter::new(dir.path());
            w.write("a.json", b"one", d).unwrap(); // created: nothing to swap with
            for i in 0..10 {
                w.write("a.json", format!("v{i}").as_bytes(), d).unwrap();
                w.write("b.json", format!("b{i}").as_bytes(), d).unwrap();
                assert_eq!(w.read("a.json").unwrap().unwrap(), format!("v{i}").as_bytes());
            }
            assert_eq!(w.read("missing.json").unwrap(), None);
            // At most one spare while one thread writes, and it is never read as data.
            let names: Vec<String> =
                fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            assert!(names.len() <= 3, "{names:?}");
            assert!(names.iter().filter(|n| n.ends_with(".json")).count() == 2, "{names:?}");
            drop(w);
            let mut names: Vec<String> =
                fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            names.sort();
            assert_eq!(names, ["a.json", "b.json"]);
            assert_eq!(fs::read(dir.path().join("a.json")).unwrap(), b"v9");
            assert_eq!(fs::read(dir.path().join("b.json")).unwrap(), b"b9");
        }
    }

    /// A reader never sees another file's bytes through an inode that was swapped out and
    /// refilled while it read.
    #[test]
    fn concurrent_reads_see_whole_values_of_their_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let w = std::sync::Arc::new(Rewriter::new(dir.path()));
        for f in 0..4 {
            w.write(&format!("{f}.json"), format!("{f}:0:{}", "x".repeat(4000)).as_bytes(), Durability::Full).unwrap();
        }
        std::thread::scope(|s| {
            for f in 0..4 {
                let writer = w.clone();
                s.spawn(move || {
                    for i in 1..40 {
                        let body = format!("{f}:{i}:{}", "x".repeat(4000));
                        writer.write(&format!("{f}.json"), body.as_bytes(), Durability::Full).unwrap();
                    }
                });
                let reader = w.clone();
                s.spawn(move || {
                    for _ in 0..200 {
                        let got = String::from_utf8(reader.read(&format!("{f}.json")).unwrap().unwrap()).unwrap();
                        assert!(got.starts_with(&format!("{f}:")) && got.ends_with(&"x".repeat(4000)), "{got:.20}");
                    }
                });
            }
        });
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn rewrites_swap_inodes_instead_of_allocating() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let w = Rewriter::new(dir.path());
        w.write("a.json", b"0", Durability::Full).unwrap();
        w.write("a.json", b"1", Durability::Full).unwrap();
        let first = fs::metadata(dir.path().join("a.json")).unwrap().ino();
        w.write("a.json", b"2", Durability::Full).unwrap();
        w.write("a.json", b"3", Durability::Full).unwrap();
        // Two inodes alternate: the file's and the spare's.
        assert_eq!(fs::metadata(dir.path().join("a.json")).unwrap().ino(), first);
        assert_eq!(fs::read(dir.path().join("a.json")).unwrap(), b"3");
        // Without fsync, no reuse: a fresh inode each time.
        w.write("a.json", b"4", Durability::Relaxed).unwrap();
        let before = fs::metadata(dir.path().join("a.json")).unwrap().ino();
        w.write("a.json", b"5", Durability::Relaxed).unwrap();
        assert_ne!(fs::metadata(dir.path().join("a.json")).unwrap().ino(), before);
    }

    /// A file that is also linked elsewhere (a hard-linked backup) or a symlink is never
    /// written through when its inode is swapped out.
    #[cfg(target_os = "linux")]
    #[test]
    fn linked_files_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let w = Rewriter::new(dir.path());
        w.write("a.json", b"original", Durability::Full).unwrap();
        fs::hard_link(dir.path().join("a.json"), outside.path().join("backup.json")).unwrap();
        fs::write(outside.path().join("target.json"), b"target").unwrap();
        std::os::unix::fs::symlink(outside.path().join("target.json"), dir.path().join("b.json")).unwrap();
        for i in 0..5 {
            w.write("a.json", format!("a{i}").as_bytes(), Durability::Full).unwrap();
            w.write("b.json", format!("b{i}").as_bytes(), Durability::Full).unwrap();
            w.write("c.json", format!("c{i}").as_bytes(), Durability::Full).unwrap();
        }
        assert_eq!(fs::read(outside.path().join("backup.json")).unwrap(), b"original");
        assert_eq!(fs::read(outside.path().join("target.json")).unwrap(), b"target");
        assert_eq!(fs::read(dir.path().join("a.json")).unwrap(), b"a4");
        assert_eq!(fs::read(dir.path().join("b.json")).unwrap(), b"b4");
    }

    #[test]
    fn new_files_appear_whole_and_never_replace() {
        let dir = tempfile::tempdir().unwrap();
        for d in [Durability::Full, Durability::Relaxed] {
            let name = format!("{d:?}.json");
            write_new(dir.path(), &name, b"{}", d).unwrap();
            assert_eq!(fs::read(dir.path().join(&name)).unwrap(), b"{}");
            let err = write_new(dir.path(), &name, b"other", d).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
            assert_eq!(fs::read(dir.path().join(&name)).unwrap(), b"{}", "the first file is kept");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(dir.path().join(&name)).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
        }
        let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["Full.json", "Relaxed.json"], "no temp files are left");
        let written = write_many(dir.path(), [("a", &b"1"[..]), ("Full.json", b"x"), ("b", b"2")], Durability::Relaxed);
        assert_eq!(written.unwrap_err().0, 1, "stops at the existing file and says how many were written");
        assert!(!dir.path().join("b").exists());
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
