//! Runs: the record kept for each (`actor_runs/<id>/run.json`), its platform shape, and the
//! statuses a run goes through.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::ApiConfig;
use crate::fsio::{self, Durability};

/// The folder of the runs inside the storage folder.
pub(crate) const RUNS_DIR: &str = "actor_runs";
/// The run's record, rewritten atomically on every change.
pub(crate) const RECORD_FILE: &str = "run.json";
/// The run's log: the process's stdout and stderr, each line prefixed with its time.
pub(crate) const LOG_FILE: &str = "log.txt";

/// `ActorJobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub(crate) enum Status {
    Ready,
    Running,
    Succeeded,
    Failed,
    TimingOut,
    TimedOut,
    Aborting,
    Aborted,
}

impl Status {
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut | Self::Aborted)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "READY",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimingOut => "TIMING-OUT",
            Self::TimedOut => "TIMED-OUT",
            Self::Aborting => "ABORTING",
            Self::Aborted => "ABORTED",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// Everything known of a run; what `run.json` holds (our own format, documented in
/// `docs/local-platform.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunRecord {
    pub(crate) id: String,
    pub(crate) act_id: String,
    pub(crate) actor_name: String,
    #[serde(default)]
    pub(crate) actor_task_id: Option<String>,
    pub(crate) started_at: String,
    #[serde(default)]
    pub(crate) finished_at: Option<String>,
    pub(crate) status: Status,
    #[serde(default)]
    pub(crate) status_message: Option<String>,
    #[serde(default)]
    pub(crate) is_status_message_terminal: Option<bool>,
    pub(crate) origin: String,
    #[serde(default)]
    pub(crate) exit_code: Option<i64>,
    pub(crate) build_id: String,
    pub(crate) build_number: String,
    pub(crate) timeout_secs: u64,
    pub(crate) memory_mbytes: u64,
    #[serde(default)]
    pub(crate) max_items: Option<u64>,
    #[serde(default)]
    pub(crate) max_total_charge_usd: Option<f64>,
    pub(crate) default_dataset_id: String,
    pub(crate) default_key_value_store_id: String,
    pub(crate) default_request_queue_id: String,
    #[serde(default)]
    pub(crate) input_body_len: u64,
    /// Milliseconds the process ran (set when it ends).
    #[serde(default)]
    pub(crate) duration_millis: u64,
    /// The process group while it runs (so a restarted emulator can stop what a killed
    /// one left behind).
    #[serde(default)]
    pub(crate) process_group: Option<i32>,
    #[serde(default)]
    pub(crate) charged_event_counts: BTreeMap<String, u64>,
    /// The idempotency keys of the charges counted (a retry under one is not counted again).
    #[serde(default)]
    pub(crate) charge_keys: std::collections::BTreeSet<String>,
    /// The input record's key, once a metamorph changed it (`INPUT-METAMORPH-1`, ...).
    #[serde(default)]
    pub(crate) input_key: Option<String>,
    #[serde(default)]
    pub(crate) reboot_count: u64,
    #[serde(default)]
    pub(crate) resurrect_count: u64,
    #[serde(default)]
    pub(crate) metamorphs: Vec<MetamorphRecord>,
}

/// One metamorph of a run: the Actor it became and the input it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetamorphRecord {
    pub(crate) created_at: String,
    pub(crate) actor_id: String,
    pub(crate) build_id: String,
    pub(crate) input_key: String,
}

impl RunRecord {
    pub(crate) fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(RUNS_DIR).join(id)
    }

    /// Writes `run.json` atomically (a crash leaves the old or the new record, whole).
    pub(crate) fn save(&self, root: &Path, durability: Durability) -> io::Result<()> {
        let dir = Self::dir(root, &self.id);
        std::fs::create_dir_all(&dir)?;
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        fsio::write_atomic(&dir, RECORD_FILE, &bytes, durability)
    }

    /// Every run found under `root`, oldest first; unreadable records are skipped with a
    /// warning (and left on disk for a person to look at).
    pub(crate) fn load_all(root: &Path) -> Vec<Self> {
        let Ok(entries) = std::fs::read_dir(root.join(RUNS_DIR)) else { return Vec::new() };
        let mut runs: Vec<Self> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let path = e.path().join(RECORD_FILE);
                let bytes = std::fs::read(&path).ok()?;
                match serde_json::from_slice::<Self>(&bytes) {
                    Ok(r) => Some(r),
                    Err(err) => {
                        tracing::warn!(path = %path.display(), error = %err, "skipping an unreadable run record");
                        None
                    }
                }
            })
            .collect();
        runs.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
        runs
    }

    /// The platform's `Run` object.
    pub(crate) fn to_object(&self, cfg: &ApiConfig, api_base: &str) -> Value {
        let base = api_base.trim_end_matches('/');
        json!({
            "id": self.id,
            "actId": self.act_id,
            "userId": cfg.user_id,
            "actorTaskId": self.actor_task_id,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "status": self.status.as_str(),
            "statusMessage": self.status_message,
            "isStatusMessageTerminal": self.is_status_message_terminal,
            "meta": {"origin": self.origin},
            "stats": {
                "inputBodyLen": self.input_body_len,
                "migrationCount": 0,
                "rebootCount": self.reboot_count,
                "restartCount": 0,
                "resurrectCount": self.resurrect_count,
                "metamorph": self.metamorphs.len(),
                "durationMillis": self.duration_millis,
                "runTimeSecs": self.duration_millis as f64 / 1000.0,
                "computeUnits": 0.0,
            },
            "chargedEventCounts": self.charged_event_counts,
            "options": {
                "build": "latest",
                "timeoutSecs": self.timeout_secs,
                "memoryMbytes": self.memory_mbytes,
                "diskMbytes": 0,
                "maxItems": self.max_items,
                "maxTotalChargeUsd": self.max_total_charge_usd,
            },
            "buildId": self.build_id,
            "buildNumber": self.build_number,
            "exitCode": self.exit_code,
            "generalAccess": "FOLLOW_USER_SETTING",
            "defaultKeyValueStoreId": self.default_key_value_store_id,
            "defaultDatasetId": self.default_dataset_id,
            "defaultRequestQueueId": self.default_request_queue_id,
            "containerUrl": format!("{base}/v2/actor-runs/{}/container", self.id),
            "isContainerServerReady": false,
            "usage": {},
            "usageTotalUsd": 0.0,
            "metamorphs": self.metamorphs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> RunRecord {
        RunRecord {
            id: "r1".into(),
            act_id: "a1".into(),
            actor_name: "x".into(),
            actor_task_id: None,
            started_at: "2026-12-07T10:00:00.000Z".into(),
            finished_at: None,
            status: Status::Running,
            status_message: None,
            is_status_message_terminal: None,
            origin: "API".into(),
            exit_code: None,
            build_id: "b1".into(),
            build_number: "0.0.1".into(),
            timeout_secs: 0,
            memory_mbytes: 1024,
            max_items: None,
            max_total_charge_usd: None,
            default_dataset_id: "d".into(),
            default_key_value_store_id: "k".into(),
            default_request_queue_id: "q".into(),
            input_body_len: 2,
            duration_millis: 0,
            process_group: Some(5),
            charged_event_counts: BTreeMap::new(),
            charge_keys: Default::default(),
            input_key: None,
            reboot_count: 0,
            resurrect_count: 0,
            metamorphs: vec![MetamorphRecord {
                created_at: "2026-12-07T10:00:01.000Z".into(),
                actor_id: "a2".into(),
                build_id: "b2".into(),
                input_key: "INPUT-METAMORPH-1".into(),
            }],
        }
    }

    #[test]
    fn the_run_object_decodes_as_the_official_model() {
        let run: apify_core::models::Run =
            serde_json::from_value(sample().to_object(&ApiConfig::default(), "http://127.0.0.1:1")).unwrap();
        assert_eq!(run.id, "r1");
        assert_eq!(run.default_dataset_id, "d");
        assert_eq!(serde_json::to_value(&run.status).unwrap(), "RUNNING");
        assert_eq!(run.metamorphs.unwrap()[0].input_key.as_deref(), Some("INPUT-METAMORPH-1"));
    }

    #[test]
    fn records_round_trip_through_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = sample();
        r.save(dir.path(), Durability::Relaxed).unwrap();
        r.status = Status::TimedOut;
        r.save(dir.path(), Durability::Relaxed).unwrap();
        std::fs::create_dir_all(dir.path().join(RUNS_DIR).join("broken")).unwrap();
        std::fs::write(dir.path().join(RUNS_DIR).join("broken").join(RECORD_FILE), b"{").unwrap();
        assert_eq!(RunRecord::load_all(dir.path()), vec![r]);
        assert_eq!(Status::parse("TIMED-OUT"), Some(Status::TimedOut));
        assert_eq!(Status::parse("nope"), None);
    }
}
