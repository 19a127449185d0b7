//! Generates `core/src/models/generated.rs` (typed models of the non-storage API) and its
//! test support `core/tests/openapi_examples/generated.rs` from the OpenAPI document
//! `core/tests/fixtures/apify-openapi.json`.
//!
//! ```text
//! cargo run -p apify-codegen              # write the files
//! cargo run -p apify-codegen -- --check   # fail if the committed files are stale (CI)
//! ```
//!
//! Which schemas: every component schema reachable through `$ref` from the JSON success
//! responses of the non-storage operations (paths without `/datasets`, `/key-value-stores`,
//! `/request-queues` or their singular chained forms), plus `names::EXTRA_ROOTS`. Response
//! envelopes (`*Response` with only `data`), `ListOf*` lists (they decode as `ListPage<T>`
//! or `ItemList<T>`) and `PaginationResponse` are walked through, not generated;
//! `GeneralAccess` is hand-written (`names::EXTERNAL`).
//!
//! How schemas map to Rust:
//! - an object (`properties`, `allOf` merged) → a struct, with `extra` for unknown keys;
//!   required and non-nullable fields are plain, the others `Option`;
//! - a union of objects (`oneOf`/`anyOf`) → one struct holding every variant's fields,
//!   required only where every variant requires them; a discriminator is a plain field;
//! - `X | null` → `Option<X>`; a union of scalars (`string | integer`) → `Value`;
//! - a string enum → an `open_enum!` (`Other(String)` for values added later);
//! - `date-time` → `Timestamp`; `integer` → `u64` when `minimum >= 0`, else `i64`;
//!   `number` → `f64`; `const` → its base type;
//! - a map (`additionalProperties: X` only) → `BTreeMap<String, X>`, an object without
//!   properties → `Map<String, Value>`, an untyped schema → `Value`;
//! - inline objects and enums → types named `{Parent}{Field}`.
//!
//! Names: schema names, except `names::RENAMES`; inline types named otherwise, and unions
//! only named inline, are in `names::INLINE_NAMES`: `SourceCodeEntry` (a file or folder of
//! `VersionSourceFiles`), `WebhookDispatchCall`, `PricingPerEvent`, `PublicActorRunStats`.

mod docs;
mod emit;
mod model;
mod names;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::{env, fs, io::Write as _};

const DOCUMENT: &str = "core/tests/fixtures/apify-openapi.json";
const MODELS: &str = "core/src/models/generated.rs";
const TEST_SUPPORT: &str = "core/tests/openapi_examples/generated.rs";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let check = match args.as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("usage: cargo run -p apify-codegen [-- --check]");
            return ExitCode::from(2);
        }
    };
    match run(check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("apify-codegen: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("codegen/ is inside the workspace").to_path_buf()
}

/// Generates both files; writes them, or (`check`) compares them with the disk. `Ok(false)`:
/// a check found stale files.
fn run(check: bool) -> Result<bool, String> {
    let root = root();
    let text = fs::read_to_string(root.join(DOCUMENT)).map_err(|e| format!("{DOCUMENT}: {e}"))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{DOCUMENT}: {e}"))?;
    let items = model::build(&doc)?;
    let outputs = [(MODELS, emit::models(&items)?), (TEST_SUPPORT, emit::test_support(&items))];
    let mut fresh = true;
    for (path, source) in outputs {
        let formatted = rustfmt(&root, &source)?;
        let file = root.join(path);
        let current = fs::read_to_string(&file).ok();
        if check {
            if current.as_deref() != Some(formatted.as_str()) {
                fresh = false;
                let at = current.as_deref().map_or_else(
                    || "it is missing".to_owned(),
                    |c| {
                        let n = c.lines().zip(formatted.lines()).take_while(|(a, b)| a == b).count() + 1;
                        format!("first difference at line {n}")
                    },
                );
                eprintln!(
                    "apify-codegen: {path} is stale ({at}): it is not what {DOCUMENT} generates. \
                     Run `cargo run -p apify-codegen` and commit the result."
                );
            }
        } else if current.as_deref() == Some(formatted.as_str()) {
            println!("{path}: up to date");
        } else {
            if let Some(dir) = file.parent() {
                fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            fs::write(&file, formatted).map_err(|e| format!("{path}: {e}"))?;
            println!("{path}: written");
        }
    }
    if check && fresh {
        println!("apify-codegen: {MODELS} and {TEST_SUPPORT} are up to date");
    }
    Ok(fresh)
}

/// Formats with the workspace's `rustfmt.toml` (`$RUSTFMT` or `rustfmt` on the path).
fn rustfmt(root: &Path, source: &str) -> Result<String, String> {
    let program = env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut child = Command::new(&program)
        .args(["--edition", "2024", "--emit", "stdout", "--config-path"])
        .arg(root.join("rustfmt.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e} (is rustfmt installed?)", program.to_string_lossy()))?;
    child
        .stdin
        .take()
        .ok_or("rustfmt has no stdin")?
        .write_all(source.as_bytes())
        .map_err(|e| format!("writing to rustfmt: {e}"))?;
    let output = child.wait_with_output().map_err(|e| format!("rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!("rustfmt rejected the generated code:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output: {e}"))
}
