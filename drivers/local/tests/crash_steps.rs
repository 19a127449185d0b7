//! A crash at each step of a multi-file write leaves a consistent storage (issue 16):
//! a record and its sidecar change together, and a push of many items is all or nothing.
//!
//! Where `crash.rs` kills a writer at random moments, this test stops it at every step in
//! turn: the child (`crash_step_child`, idle unless `APIFY_CRASH_STEP_DIR` is set) arms the
//! storage's crash points to exit at the n-th one and runs one write; the parent reopens
//! the folder and checks what a reader gets, for n = 1, 2, ... until the write completes.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use apify_local::fsio::{Durability, crash_points};
use apify_local::storage::{ItemQuery, StorageConfig, Storages, Target};
use serde_json::{Value, json};

const DIR_ENV: &str = "APIFY_CRASH_STEP_DIR";
const SCENARIO_ENV: &str = "APIFY_CRASH_STEP_SCENARIO";
const STEP_ENV: &str = "APIFY_CRASH_STEP_N";
const DURABILITY_ENV: &str = "APIFY_CRASH_STEP_DURABILITY";

const OLD_VALUE: &[u8] = b"hello, plain text";
const OLD_TYPE: &str = "text/plain; charset=utf-8";
const NEW_VALUE: &[u8] = b"{\n  \"now\": \"json\",\n  \"longer\": true\n}";
const NEW_TYPE: &str = "application/json; charset=utf-8";

fn config(root: &Path, durability: &str) -> StorageConfig {
    let mut cfg = StorageConfig::new(root);
    cfg.durability = if durability == "relaxed" { Durability::Relaxed } else { Durability::Full };
    cfg
}

fn item(i: u64) -> Value {
    json!({"i": i, "text": format!("item {i}")})
}

/// The write under test, run only in the child process.
#[test]
fn crash_step_child() {
    let Some(root) = std::env::var_os(DIR_ENV) else { return };
    let scenario = std::env::var(SCENARIO_ENV).unwrap();
    let step: u64 = std::env::var(STEP_ENV).unwrap().parse().unwrap();
    let s = Storages::new(config(Path::new(&root), &std::env::var(DURABILITY_ENV).unwrap()));
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    let (ds, _) = s.open_dataset(&Target::Default).unwrap();
    crash_points::arm(step);
    match scenario.as_str() {
        "overwrite" => kvs.set("K", NEW_VALUE, NEW_TYPE).unwrap(),
        "create" => kvs.set("NEW", NEW_VALUE, NEW_TYPE).unwrap(),
        "push" => ds.push(&[item(3), item(4), item(5)]).unwrap(),
        other => panic!("unknown scenario {other}"),
    }
    println!("DONE {}", crash_points::reached());
}

/// Runs the child with the crash armed at `step`: the name of the point it stopped at, or
/// `None` if the write completed (then with the number of points it passed).
fn run_child(root: &Path, scenario: &str, durability: &str, step: u64) -> Result<String, u64> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_step_child", "--nocapture", "--test-threads=1"])
        .env(DIR_ENV, root)
        .env(SCENARIO_ENV, scenario)
        .env(STEP_ENV, step.to_string())
        .env(DURABILITY_ENV, durability)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(name) = stdout.lines().find_map(|l| l.split_once("CRASH ").map(|(_, n)| n.to_owned())) {
        assert!(!out.status.success(), "the child reported a crash but exited cleanly");
        return Ok(name);
    }
    assert!(out.status.success(), "the child failed without reaching a crash point: {stdout}");
    let passed = stdout.lines().find_map(|l| l.split_once("DONE ").map(|(_, n)| n.trim().parse().unwrap()));
    Err(passed.unwrap_or_else(|| panic!("no DONE line: {stdout}")))
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Runs `scenario` with a crash at every step in turn; `check` gets the reopened storages
/// and the point of the crash (`None`: no crash), and returns what the reader saw.
fn every_step(
    scenario: &str,
    durability: &str,
    prepare: impl Fn(&Storages),
    check: impl Fn(&Storages, Option<&str>) -> &'static str,
) -> Vec<(String, &'static str)> {
    let mut seen = Vec::new();
    for step in 1.. {
        assert!(step < 50, "{scenario}: the write never completed");
        let tmp = tempfile::tempdir().unwrap();
        prepare(&Storages::new(config(tmp.path(), durability)));
        let crashed = run_child(tmp.path(), scenario, durability, step);
        let s = Storages::new(config(tmp.path(), durability));
        let label = match &crashed {
            Ok(point) => format!("{scenario}/{durability}: crash {step} at {point:?}"),
            Err(_) => format!("{scenario}/{durability}: no crash"),
        };
        // The reopen recovers; a live handle's own spare files come only with its writes.
        let (_kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
        let (_ds, _) = s.open_dataset(&Target::Default).unwrap();
        for sub in ["key_value_stores/default", "datasets/default"] {
            let left = temp_files(&tmp.path().join(sub));
            assert!(left.is_empty(), "{label}: temp files left after the reopen: {left:?}");
        }
        let outcome = check(&s, crashed.as_ref().ok().map(String::as_str));
        eprintln!("{label}: {outcome}");
        match crashed {
            Ok(point) => seen.push((point, outcome)),
            Err(passed) => {
                assert_eq!(passed as usize, seen.len(), "{label}: points passed vs points crashed at");
                seen.push(("no crash".into(), outcome));
                return seen;
            }
        }
    }
    unreachable!()
}

/// A record's value, content type and the size listings report, after the reopen.
fn record_seen(s: &Storages, key: &str) -> Option<(Vec<u8>, String, u64, u64)> {
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    let rec = kvs.get(key).unwrap()?;
    let head = kvs.info(key).expect("GET found the record, HEAD must too").size;
    let listed = kvs.list_keys(None, 100, None).0.into_iter().find(|k| k.key == key).expect("listed").size;
    Some((rec.value, rec.content_type, head, listed))
}

#[test]
fn a_record_and_its_sidecar_change_together_at_every_crash_step() {
    for durability in ["full", "relaxed"] {
        let seen = every_step(
            "overwrite",
            durability,
            |s| {
                let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
                kvs.set("K", OLD_VALUE, OLD_TYPE).unwrap();
            },
            |s, point| {
                let (value, content_type, head, listed) = record_seen(s, "K").expect("the record is never lost");
                assert_eq!((head, listed), (value.len() as u64, value.len() as u64), "{point:?}: sizes");
                match value.as_slice() {
                    OLD_VALUE => assert_eq!(content_type, OLD_TYPE, "{point:?}: old bytes, new content type"),
                    NEW_VALUE => assert_eq!(content_type, NEW_TYPE, "{point:?}: new bytes, old content type"),
                    other => panic!("{point:?}: neither value: {:?}", String::from_utf8_lossy(other)),
                }
                if value == OLD_VALUE { "old record" } else { "new record" }
            },
        );
        let points: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            points,
            [
                "record value staged",
                "record sidecar staged",
                "record value renamed",
                "record sidecar renamed",
                "no crash"
            ],
            "{durability}"
        );
        let outcomes: Vec<&str> = seen.iter().map(|(_, o)| *o).collect();
        // Until the value is renamed the old record stands; from then on the new one, whole.
        assert_eq!(outcomes, ["old record", "old record", "new record", "new record", "new record"], "{durability}");
    }
}

#[test]
fn a_new_record_appears_whole_or_not_at_all_at_every_crash_step() {
    let seen = every_step(
        "create",
        "full",
        |_| {},
        |s, point| match record_seen(s, "NEW") {
            None => "missing",
            Some((value, content_type, head, listed)) => {
                assert_eq!((value.as_slice(), content_type.as_str()), (NEW_VALUE, NEW_TYPE), "{point:?}");
                assert_eq!((head, listed), (NEW_VALUE.len() as u64, NEW_VALUE.len() as u64), "{point:?}");
                "present"
            }
        },
    );
    let outcomes: Vec<&str> = seen.iter().map(|(_, o)| *o).collect();
    assert_eq!(outcomes, ["missing", "missing", "present", "present", "present"]);
}

#[test]
fn a_push_is_all_or_nothing_at_every_crash_step() {
    for durability in ["full", "relaxed"] {
        let seen = every_step(
            "push",
            durability,
            |s| {
                let (ds, _) = s.open_dataset(&Target::Default).unwrap();
                ds.push(&[item(1), item(2)]).unwrap();
            },
            |s, point| {
                let (ds, _) = s.open_dataset(&Target::Default).unwrap();
                let page = ds.get_items(&ItemQuery::default()).unwrap();
                let n = page.items.len() as u64;
                assert_eq!(page.total, n, "{point:?}");
                assert_eq!(page.items, (1..=n).map(item).collect::<Vec<_>>(), "{point:?}: items");
                assert!(n == 2 || n == 5, "{point:?}: {n} items: a push was half kept");
                // The client's retry of an unacknowledged push then stores each item once,
                // numbered after the last one.
                if n == 2 {
                    ds.push(&[item(3), item(4), item(5)]).unwrap();
                }
                ds.push(&[item(6)]).unwrap();
                let all = ds.get_items(&ItemQuery::default()).unwrap().items;
                assert_eq!(all, (1..=6).map(item).collect::<Vec<_>>(), "{point:?}: after the retry");
                if n == 2 { "rolled back" } else { "committed" }
            },
        );
        let points: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            points,
            [
                "push noted",
                "a file of a batch written",
                "a file of a batch written",
                "a file of a batch written",
                "push committed",
                "no crash"
            ],
            "{durability}"
        );
        let outcomes: Vec<&str> = seen.iter().map(|(_, o)| *o).collect();
        assert_eq!(
            outcomes,
            ["rolled back", "rolled back", "rolled back", "rolled back", "committed", "committed"],
            "{durability}"
        );
    }
}
