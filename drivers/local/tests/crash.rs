//! A process killed during a batch of writes loses nothing it acknowledged (local-storage-format.md
//! §13 W1–W3, W5; defects D5, D6, D9).
//!
//! The parent test re-executes this test binary as the child (`crash_child_writer`, which does
//! nothing unless `APIFY_CRASH_CHILD_DIR` is set). The child pushes items, adds requests, handles
//! some and writes records, in batches, printing an `ACK` line after each acknowledged call. The
//! parent kills it (SIGKILL) at varying moments, then reopens the folder with a fresh `Storages`
//! and checks every acknowledged write. `APIFY_CRASH_SEED` varies the kill moments.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use apify_local::format::pyjson;
use apify_local::fsio::Durability;
use apify_local::storage::{ItemQuery, StorageConfig, Storages, StoredRequest, Target};
use apify_local::unique_key::request_file_name;
use serde_json::{Value, json};

const CHILD_DIR_ENV: &str = "APIFY_CRASH_CHILD_DIR";
const CHILD_DURABILITY_ENV: &str = "APIFY_CRASH_CHILD_DURABILITY";
const ITEM_BATCH: u64 = 60;
const REQUEST_BATCH: u64 = 20;
const HANDLE_BATCH: usize = 7;
const MAX_ROUNDS: u64 = 150;

fn item(i: u64) -> Value {
    json!({"i": i, "title": format!("item {i} ✓"), "payload": "x".repeat(300), "nested": {"f": 0.1, "l": [i, "ü"]}})
}

fn request_key(i: u64) -> String {
    format!("https://example.com/crash/{i}")
}

fn request(i: u64) -> StoredRequest {
    StoredRequest::from_api(&json!({"uniqueKey": request_key(i), "url": request_key(i), "userData": {"i": i}})).unwrap()
}

fn record_value(round: u64) -> Vec<u8> {
    pyjson::to_string_pretty(&json!({"round": round, "data": "r".repeat(500)})).into_bytes()
}

/// The writer, run only in the child process.
#[test]
fn crash_child_writer() {
    let Some(root) = std::env::var_os(CHILD_DIR_ENV) else { return };
    let mut cfg = StorageConfig::new(root);
    cfg.durability = match std::env::var(CHILD_DURABILITY_ENV).as_deref() {
        Ok("relaxed") => Durability::Relaxed,
        _ => Durability::Full,
    };
    let s = Storages::new(cfg);
    let (ds, _) = s.open_dataset(&Target::Default).unwrap();
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    // A second run on the same folder resumes where the files end.
    let (mut items, mut requests) = (ds.item_count(), rq.counts().2);
    let first_round = kvs.list_keys(None, 1000, None).0.iter().filter(|k| k.key.starts_with('K')).count() as u64;
    println!("READY");
    for round in first_round..first_round + MAX_ROUNDS {
        let batch: Vec<Value> = (items..items + ITEM_BATCH).map(item).collect();
        ds.push(&batch).unwrap();
        items += ITEM_BATCH;
        println!("ACK items {items}");
        rq.add((requests..requests + REQUEST_BATCH).map(request).collect(), false, Some("child")).unwrap();
        requests += REQUEST_BATCH;
        println!("ACK requests {requests}");
        let head = rq.lock_head(HANDLE_BATCH, Duration::from_secs(600), Some("child")).unwrap();
        for h in head.items {
            let mut r = rq.get(&h.id).unwrap().unwrap().request;
            r.handled_at = Some(time::OffsetDateTime::now_utc());
            r.loaded_url = Some(format!("{}?loaded", r.url));
            rq.update(&h.id, r, false, Some("child")).unwrap();
            println!("ACK handled {}", h.unique_key);
        }
        kvs.set(&format!("K{round:04}"), &record_value(round), "application/json; charset=utf-8").unwrap();
        println!("ACK record {round}");
    }
    println!("DONE");
}

/// What the child acknowledged before it died.
#[derive(Debug, Default)]
struct Acked {
    items: u64,
    requests: u64,
    handled: BTreeSet<String>,
    records: BTreeSet<u64>,
    done: bool,
}

impl Acked {
    fn note(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("ACK"), Some("items"), Some(n)) => self.items = n.parse().unwrap(),
            (Some("ACK"), Some("requests"), Some(n)) => self.requests = n.parse().unwrap(),
            (Some("ACK"), Some("handled"), Some(k)) => {
                self.handled.insert(k.to_owned());
            }
            (Some("ACK"), Some("record"), Some(n)) => {
                self.records.insert(n.parse().unwrap());
            }
            (Some("DONE"), ..) => self.done = true,
            _ => {}
        }
    }
}

/// xorshift64*: kill moments that differ per round but can be replayed from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

fn json_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") && n != "__metadata__.json")
        .collect();
    v.sort();
    v
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Runs the child until `acks` acknowledgements plus a random pause, kills it, and returns
/// everything it acknowledged.
fn run_and_kill(root: &Path, durability: &str, acks: usize, pause_us: u64) -> Acked {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, root)
        .env(CHILD_DURABILITY_ENV, durability)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = Acked::default();
    let mut seen = 0;
    let mut ready = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    while (!ready || seen < acks) && !acked.done {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if line.starts_with("ACK") {
                    seen += 1;
                }
                // libtest prints `test crash_child_writer ... ` before the child's first line.
                ready |= line.ends_with("READY");
                acked.note(&line);
            }
            Err(e) => {
                let _ = child.kill();
                panic!("the child stopped reporting ({e:?}) after {seen} acks");
            }
        }
    }
    std::thread::sleep(Duration::from_micros(pause_us));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success() || acked.done, "the child ended by itself: {status:?}");
    // Lines the child printed before it died are acknowledgements too.
    reader.join().unwrap();
    for line in rx.try_iter() {
        acked.note(&line);
    }
    acked
}

/// Checks the folder after the kill: nothing acknowledged is missing, nothing is corrupt, the
/// counters match the files, and writing continues after the last item.
/// `kills` is how many writers were killed on the folder: each may leave one unacknowledged
/// write of each kind behind.
fn verify(root: &Path, acked: &Acked, label: &str, kills: u64) {
    let ds_dir = root.join("datasets/default");
    let rq_dir = root.join("request_queues/default");
    let kvs_dir = root.join("key_value_stores/default");

    // Before reopening: the files as the kill left them.
    let item_names = json_files(&ds_dir);
    let n = item_names.len() as u64;
    let expected_names: Vec<String> = (1..=n).map(|i| format!("{i:09}.json")).collect();
    assert_eq!(item_names, expected_names, "{label}: item files are not contiguous");
    assert!(n >= acked.items, "{label}: {n} item files, {} acknowledged", acked.items);
    assert!(n <= acked.items + kills * ITEM_BATCH, "{label}: {n} item files, more than one batch past the ack");
    for (i, name) in item_names.iter().enumerate() {
        let bytes = fs::read(ds_dir.join(name)).unwrap();
        assert_eq!(bytes, pyjson::to_string_pretty(&item(i as u64)).into_bytes(), "{label}: {name} is damaged");
    }
    let tmp_before: Vec<String> = [&ds_dir, &rq_dir, &kvs_dir].iter().flat_map(|d| temp_files(d)).collect();
    for t in &tmp_before {
        assert!(!t.ends_with(".json"), "{label}: temp file {t} looks like data");
    }

    eprintln!(
        "{label}: {} items and {} requests beyond the acknowledged ones, temp files {tmp_before:?}",
        n - acked.items,
        json_files(&rq_dir).len() as u64 - acked.requests.min(json_files(&rq_dir).len() as u64)
    );
    let request_names = json_files(&rq_dir);
    let f = request_names.len() as u64;
    assert!(f >= acked.requests, "{label}: {f} request files, {} acknowledged", acked.requests);
    assert!(f <= acked.requests + kills * REQUEST_BATCH, "{label}: {f} request files");
    let expected_files: BTreeSet<String> = (0..f).map(|i| request_file_name(&request_key(i))).collect();
    assert_eq!(request_names.iter().cloned().collect::<BTreeSet<_>>(), expected_files, "{label}: request files");
    let mut handled_in_files = BTreeSet::new();
    for name in &request_names {
        let v: Value = serde_json::from_slice(&fs::read(rq_dir.join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{label}: request file {name} does not parse: {e}"));
        if !v["handled_at"].is_null() {
            handled_in_files.insert(v["unique_key"].as_str().unwrap().to_owned());
            assert!(v["loaded_url"].as_str().unwrap().ends_with("?loaded"), "{label}: {v}");
        }
    }
    let missing: Vec<&String> = acked.handled.difference(&handled_in_files).collect();
    assert!(missing.is_empty(), "{label}: acknowledged as handled but not in the files: {missing:?}");
    assert!(
        handled_in_files.len() as u64 <= acked.handled.len() as u64 + kills,
        "{label}: at most the one in flight is extra"
    );

    // Reopen.
    let s = Storages::new(StorageConfig::new(root));
    let (ds, _) = s.open_dataset(&Target::Default).unwrap_or_else(|e| panic!("{label}: reopening the dataset: {e}"));
    let (rq, _) =
        s.open_request_queue(&Target::Default).unwrap_or_else(|e| panic!("{label}: reopening the queue: {e}"));
    let (kvs, _) =
        s.open_key_value_store(&Target::Default).unwrap_or_else(|e| panic!("{label}: reopening the store: {e}"));

    // A push is all or nothing: the reopen rolls back one that was not committed, and a
    // committed one may lack only its acknowledgement.
    let m = ds.item_count();
    assert!(m % ITEM_BATCH == 0 && m <= n, "{label}: {m} items kept of {n} files: a push was half kept");
    assert!(m == acked.items || m == acked.items + ITEM_BATCH, "{label}: {m} items, {} acknowledged", acked.items);
    assert_eq!(json_files(&ds_dir).len() as u64, m, "{label}: rolled-back item files are removed");
    let page = ds.get_items(&ItemQuery::default()).unwrap();
    assert_eq!((page.total, page.items.len() as u64), (m, m), "{label}");
    assert!(page.items.iter().enumerate().all(|(i, v)| *v == item(i as u64)), "{label}: items read back differ");
    let meta: Value = serde_json::from_slice(&fs::read(ds_dir.join("__metadata__.json")).unwrap()).unwrap();
    assert_eq!(meta["item_count"], m, "{label}: the count is written back");

    let handled = handled_in_files.len() as u64;
    assert_eq!(rq.counts(), (handled, f - handled, f), "{label}: queue counters");
    let meta: Value = serde_json::from_slice(&fs::read(rq_dir.join("__metadata__.json")).unwrap()).unwrap();
    assert_eq!(
        [&meta["handled_request_count"], &meta["pending_request_count"], &meta["total_request_count"]],
        [&json!(handled), &json!(f - handled), &json!(f)],
        "{label}: queue metadata"
    );
    // The order survives the kill (W5): the pending requests in the order they were added;
    // requests locked when the child died are served again (D9: nothing lost).
    let (head, ..) = rq.head(f as usize, Some("verifier")).unwrap();
    let order: Vec<String> = head.into_iter().map(|h| h.unique_key).collect();
    let expected: Vec<String> = (0..f).map(request_key).filter(|k| !handled_in_files.contains(k)).collect();
    assert_eq!(order, expected, "{label}: pending order");

    let keys = kvs.list_keys(None, 1000, None).0;
    let listed: BTreeSet<String> = keys.iter().map(|k| k.key.clone()).collect();
    for round in &acked.records {
        let key = format!("K{round:04}");
        assert!(listed.contains(&key), "{label}: acknowledged record {key} is missing");
    }
    assert!(listed.len() as u64 <= acked.records.len() as u64 + kills, "{label}: {listed:?}");
    for k in &keys {
        let round: u64 = k.key[1..].parse().unwrap();
        let rec = kvs.get(&k.key).unwrap().unwrap();
        assert_eq!(rec.value, record_value(round), "{label}: record {} is damaged", k.key);
        assert_eq!(k.size, rec.value.len() as u64, "{label}: sidecar size of {}", k.key);
    }
    // No temp file survives a reopen, and none was read as data.
    for d in [&ds_dir, &rq_dir, &kvs_dir] {
        assert_eq!(temp_files(d), Vec::<String>::new(), "{label}: {} after reopening", d.display());
    }

    // Writing continues after the last item and overwrites nothing (D5).
    let item_names = &item_names[..m as usize];
    let before: Vec<Vec<u8>> = item_names.iter().map(|name| fs::read(ds_dir.join(name)).unwrap()).collect();
    ds.push(&[json!({"after": "crash"})]).unwrap();
    let after = json_files(&ds_dir);
    assert_eq!(after.len() as u64, m + 1, "{label}");
    assert_eq!(after.last().unwrap(), &format!("{:09}.json", m + 1));
    for (name, bytes) in item_names.iter().zip(&before) {
        assert_eq!(&fs::read(ds_dir.join(name)).unwrap(), bytes, "{label}: {name} was overwritten");
    }
    let out = rq.add(vec![request(f), request(0)], false, None).unwrap();
    assert!(!out[0].was_already_present && out[1].was_already_present, "{label}");
    assert_eq!(rq.counts().2, f + 1, "{label}");
}

#[test]
fn a_killed_writer_loses_no_acknowledged_write() {
    let seed = std::env::var("APIFY_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("APIFY_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    // Kill after this many acknowledgements (the very first write too), plus a random pause.
    let plan = [(0usize, "full"), (1, "relaxed"), (3, "full"), (6, "relaxed"), (13, "full"), (25, "relaxed")];
    for (round, (base, durability)) in plan.into_iter().enumerate() {
        let acks = base + rng.next(6) as usize;
        let pause_us = rng.next(4000);
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("storage");
        let acked = run_and_kill(&root, durability, acks, pause_us);
        let label = format!("round {round} ({durability}, {acks} acks + {pause_us} µs, seed {seed})");
        eprintln!(
            "{label}: acknowledged {} items, {} requests, {} handled, {} records",
            acked.items,
            acked.requests,
            acked.handled.len(),
            acked.records.len()
        );
        // The child may die before it created anything at all.
        if !root.join("datasets/default").exists() {
            continue;
        }
        verify(&root, &acked, &label, 1);
    }
    // Twice on one folder: the second writer resumes a folder left by a kill, and is killed too.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("storage");
    let mut acked = run_and_kill(&root, "full", 8 + rng.next(5) as usize, rng.next(3000));
    let second = run_and_kill(&root, "relaxed", 8 + rng.next(5) as usize, rng.next(3000));
    assert!(second.items >= acked.items && second.requests >= acked.requests, "the second writer went back");
    acked.items = second.items;
    acked.requests = second.requests;
    acked.handled.extend(second.handled);
    acked.records.extend(second.records);
    verify(&root, &acked, &format!("two kills on one folder (seed {seed})"), 2);
    eprintln!("total {:?}", started.elapsed());
}
