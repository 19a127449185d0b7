//! The official Python client 3.4 runs local Actors on the emulator: a script of the
//! standard library and an Actor written with the Python SDK 4.1 (`async with Actor`),
//! which runs at home against the emulator. Then the storage folder is checked: the runs'
//! records and logs, and the datasets the Actors wrote.

use std::path::Path;

use apify_local::platform::{LocalActor, PlatformOptions};
use apify_local::storage::{ItemQuery, Target};
use apify_tests::Emulator;
use apify_tests::python::{python, run_script};
use serde_json::{Value, json};

const SCRIPT: &str = include_str!("../python/local_runs.py");
const TOKEN: &str = "local-runs-token";

fn quoted(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn the_python_client_runs_local_actors_and_the_sdk_runs_at_home() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let actors = Path::new(env!("CARGO_MANIFEST_DIR")).join("actors");
    let options = PlatformOptions {
        actors: vec![
            LocalActor::new("scripted", &format!("python3 {}", quoted(&actors.join("scripted.py")))).unwrap(),
            LocalActor::new("sdk", &format!("{} {}", quoted(&python()), quoted(&actors.join("sdk_actor.py")))).unwrap(),
        ],
        workdir: dir.path().to_owned(),
        ..PlatformOptions::default()
    };
    let emulator = Emulator::with_platform(&storage, Some(TOKEN), options);
    let out = run_script(SCRIPT, &[emulator.url(), TOKEN], dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|r| serde_json::from_str(r).unwrap())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));
    let id = |k: &str| result[k].as_str().unwrap().to_owned();

    // What the Actors wrote is in the served folder, in the storages the runs name.
    let (ds, _) = emulator.storages().open_dataset(&Target::Id(id("dataset"))).unwrap();
    assert_eq!(ds.get_items(&ItemQuery::default()).unwrap().items, [json!({"i": 0}), json!({"i": 1})]);
    // The runs' records and logs are kept in the folder.
    for (run, status) in [("run", "SUCCEEDED"), ("failed", "FAILED"), ("sdk", "SUCCEEDED")] {
        let run_dir = storage.join("actor_runs").join(id(run));
        let record: Value = serde_json::from_slice(&std::fs::read(run_dir.join("run.json")).unwrap()).unwrap();
        assert_eq!(record["status"], status, "{record}");
        assert!(run_dir.join("log.txt").exists());
    }
    // Nothing was written outside the served folder by the SDK Actor at home.
    assert!(!dir.path().join("storage").join("datasets").join("default").exists());
}
