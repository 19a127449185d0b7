//! The Python reference peers (`apify` 4.1.0, `apify-client` 3.4.0) for compatibility
//! tests: a virtualenv under `target/` created on first use, so that `cargo test` works on
//! a fresh machine (it needs `python3` and access to PyPI once).

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const REQUIREMENTS: &str = include_str!("../python/requirements.txt");

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_owned)
}

fn requirements_hash() -> u64 {
    // FNV-1a: a stable fingerprint of the requirement list, to rebuild the env when it changes.
    REQUIREMENTS.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Python interpreter with the reference packages: `$APIFY_TEST_PYTHON` if set,
/// otherwise a virtualenv in `target/apify-pyenv`, created (under a file lock, since test
/// binaries run in parallel) on first use.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("APIFY_TEST_PYTHON") {
                return PathBuf::from(p);
            }
            let target =
                std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from);
            let env = target.join("apify-pyenv");
            fs::create_dir_all(&target).expect("creating the target directory");
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(target.join("apify-pyenv.lock"))
                .expect("opening the venv lock file");
            lock.lock().expect("locking the venv");
            let marker = env.join(format!(".ready-{:016x}", requirements_hash()));
            let python = env.join("bin").join("python");
            if !marker.exists() {
                let _ = fs::remove_dir_all(&env);
                run(Command::new("python3").args(["-m", "venv"]).arg(&env), "python3 -m venv (is python3 installed?)");
                let reqs = target.join("apify-pyenv-requirements.txt");
                fs::write(&reqs, REQUIREMENTS).expect("writing requirements");
                run(
                    Command::new(&python)
                        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                        .arg(&reqs),
                    "pip install of the Python reference packages",
                );
                fs::write(&marker, REQUIREMENTS).expect("writing the venv marker");
            }
            drop(lock);
            python
        })
        .clone()
}

/// Runs a Python script (given as source) with `args`, in `cwd`, with extra environment
/// variables; panics with both outputs if it fails.
pub fn run_script(source: &str, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let out = Command::new(python())
        .arg("-c")
        .arg(source)
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        // A clean Apify environment: nothing from the machine running the tests leaks in.
        .env_remove("APIFY_TOKEN")
        .env_remove("APIFY_IS_AT_HOME")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null())
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "python script failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
