//! The local Actors: programs declared with `--actor NAME=COMMAND` or an Actors file,
//! described with the platform's Actor, version and build shapes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::ApiConfig;

/// One local Actor: a name and the shell command that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalActor {
    /// Its ID, derived from the name so it is the same across restarts.
    pub id: String,
    /// Its name (`username~name` and the bare name both find it).
    pub name: String,
    /// Run through `sh -c` in the emulator's working directory.
    pub command: String,
    /// Extra environment variables of its runs (the platform's version env vars).
    pub env: BTreeMap<String, String>,
    /// Default run timeout in seconds (0: none).
    pub timeout_secs: u64,
    /// Default memory in megabytes (reported as `ACTOR_MEMORY_MBYTES`).
    pub memory_mbytes: u64,
    /// Where its command runs, when not in the emulator's working directory (an Actor
    /// created through the API runs in its sources' folder).
    pub(crate) workdir: Option<PathBuf>,
}

/// Why an Actor declaration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActorSpecError {
    /// `--actor` without `=`.
    #[error("an Actor is declared as NAME=COMMAND, got {0:?}")]
    Syntax(String),
    /// A name the platform would refuse.
    #[error("invalid Actor name {0:?}: use 1 to 63 characters a-z, A-Z, 0-9 and '-', not starting or ending with '-'")]
    Name(String),
    /// An empty command.
    #[error("the command of Actor {0:?} is empty")]
    Command(String),
    /// The same name twice.
    #[error("Actor {0:?} is declared twice")]
    Duplicate(String),
    /// The Actors file could not be read or parsed.
    #[error("Actors file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
}

const DEFAULT_MEMORY_MBYTES: u64 = 1024;

pub(crate) fn valid_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A stable 17-character ID in the platform's alphabet, from a name.
pub(crate) fn stable_id(seed: &str) -> String {
    const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let digest = Sha256::digest(seed.as_bytes());
    digest.iter().take(17).map(|b| ALPHABET[usize::from(*b) % 62] as char).collect()
}

impl LocalActor {
    /// An Actor named `name` that runs `command`.
    pub fn new(name: &str, command: &str) -> Result<Self, ActorSpecError> {
        if !valid_name(name) {
            return Err(ActorSpecError::Name(name.to_owned()));
        }
        if command.trim().is_empty() {
            return Err(ActorSpecError::Command(name.to_owned()));
        }
        Ok(Self {
            id: stable_id(&format!("actor:{name}")),
            name: name.to_owned(),
            command: command.to_owned(),
            env: BTreeMap::new(),
            timeout_secs: 0,
            memory_mbytes: DEFAULT_MEMORY_MBYTES,
            workdir: None,
        })
    }

    /// Parses `NAME=COMMAND` (the `--actor` flag).
    pub fn parse(spec: &str) -> Result<Self, ActorSpecError> {
        let (name, command) = spec.split_once('=').ok_or_else(|| ActorSpecError::Syntax(spec.to_owned()))?;
        Self::new(name.trim(), command)
    }

    /// The ID of its one build (local builds always succeed and never change).
    pub(crate) fn build_id(&self) -> String {
        stable_id(&format!("build:{}", self.name))
    }

    /// Whether `id` (an ID, `name`, `username~name` or `username/name`) names it.
    pub(crate) fn is_named_by(&self, id: &str, username: &str) -> bool {
        if id == self.id || id == self.name {
            return true;
        }
        match id.split_once(['~', '/']) {
            Some((user, name)) => name == self.name && (user.is_empty() || user == username),
            None => false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileActor {
    command: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    timeout_secs: u64,
    #[serde(default)]
    memory_mbytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActorsFile {
    actors: BTreeMap<String, FileActor>,
}

/// Reads an Actors file: `{"actors": {"NAME": {"command": "...", "env": {...},
/// "timeoutSecs": 0, "memoryMbytes": 1024}}}`.
pub fn read_actors_file(path: &Path) -> Result<Vec<LocalActor>, ActorSpecError> {
    let err = |message: String| ActorSpecError::File { path: path.display().to_string(), message };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let file: ActorsFile = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
    file.actors
        .into_iter()
        .map(|(name, a)| {
            let mut actor = LocalActor::new(&name, &a.command)?;
            actor.env = a.env;
            actor.timeout_secs = a.timeout_secs;
            actor.memory_mbytes = a.memory_mbytes.unwrap_or(DEFAULT_MEMORY_MBYTES).max(128);
            Ok(actor)
        })
        .collect()
}

/// Refuses two Actors of one name.
pub fn check_unique(actors: &[LocalActor]) -> Result<(), ActorSpecError> {
    let mut seen = std::collections::HashSet::new();
    for a in actors {
        if !seen.insert(a.name.as_str()) {
            return Err(ActorSpecError::Duplicate(a.name.clone()));
        }
    }
    Ok(())
}

/// The version every local Actor has.
pub(crate) const VERSION: &str = "0.0";
/// The number of its build.
pub(crate) const BUILD_NUMBER: &str = "0.0.1";

pub(crate) fn version_object(actor: &LocalActor) -> Value {
    let env: Vec<Value> = actor.env.iter().map(|(k, v)| json!({"name": k, "value": v, "isSecret": false})).collect();
    json!({
        "versionNumber": VERSION,
        "sourceType": "SOURCE_FILES",
        "envVars": env,
        "applyEnvVarsToBuild": false,
        "buildTag": "latest",
        "sourceFiles": [],
    })
}

pub(crate) fn actor_object(cfg: &ApiConfig, actor: &LocalActor, created_at: &str, total_runs: usize) -> Value {
    json!({
        "id": actor.id,
        "userId": cfg.user_id,
        "name": actor.name,
        "username": cfg.username,
        "title": actor.name,
        "description": format!("Local Actor: {}", actor.command),
        "isPublic": false,
        "createdAt": created_at,
        "modifiedAt": created_at,
        "stats": {"totalBuilds": 1, "totalRuns": total_runs, "totalUsers": 1, "totalUsers7Days": 1,
                  "totalUsers30Days": 1, "totalUsers90Days": 1, "totalMetamorphs": 0},
        "versions": [version_object(actor)],
        "defaultRunOptions": {"build": "latest", "timeoutSecs": actor.timeout_secs,
                              "memoryMbytes": actor.memory_mbytes, "restartOnError": false},
        "exampleRunInput": {"body": "{}", "contentType": "application/json; charset=utf-8"},
        "isDeprecated": false,
        "taggedBuilds": {"latest": {"buildId": actor.build_id(), "buildNumber": BUILD_NUMBER, "finishedAt": created_at}},
    })
}

pub(crate) fn build_object(cfg: &ApiConfig, actor: &LocalActor, created_at: &str) -> Value {
    json!({
        "id": actor.build_id(),
        "actId": actor.id,
        "userId": cfg.user_id,
        "startedAt": created_at,
        "finishedAt": created_at,
        "status": "SUCCEEDED",
        "meta": {"origin": "API"},
        "stats": {"durationMillis": 0, "runTimeSecs": 0.0, "computeUnits": 0.0},
        "options": {"useCache": true, "betaPackages": false, "memoryMbytes": actor.memory_mbytes, "diskMbytes": 0},
        "usage": {},
        "buildNumber": BUILD_NUMBER,
        "actVersion": {"versionNumber": VERSION, "sourceType": "SOURCE_FILES", "buildTag": "latest"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_checked() {
        let a = LocalActor::parse("my-actor=echo hi=there").unwrap();
        assert_eq!((a.name.as_str(), a.command.as_str()), ("my-actor", "echo hi=there"));
        assert_eq!(a.id.len(), 17);
        assert_eq!(a.id, LocalActor::parse("my-actor=other").unwrap().id, "the ID follows the name");
        assert!(matches!(LocalActor::parse("no-command"), Err(ActorSpecError::Syntax(_))));
        assert!(matches!(LocalActor::parse("bad name=x"), Err(ActorSpecError::Name(_))));
        assert!(matches!(LocalActor::parse("-x=y"), Err(ActorSpecError::Name(_))));
        assert!(matches!(LocalActor::parse("x=  "), Err(ActorSpecError::Command(_))));
        let twice = [LocalActor::parse("a=x").unwrap(), LocalActor::parse("a=y").unwrap()];
        assert!(matches!(check_unique(&twice), Err(ActorSpecError::Duplicate(_))));
        assert!(a.is_named_by(&a.id, "me"));
        assert!(a.is_named_by("my-actor", "me"));
        assert!(a.is_named_by("me~my-actor", "me"));
        assert!(a.is_named_by("me/my-actor", "me"));
        assert!(!a.is_named_by("other~my-actor", "me"));
        assert!(!a.is_named_by("me~other", "me"));
    }

    #[test]
    fn the_shapes_decode_as_the_official_models() {
        let cfg = ApiConfig::default();
        let a = LocalActor::parse("my-actor=true").unwrap();
        let at = "2026-12-07T10:00:00.000Z";
        let actor: apify_core::models::Actor = serde_json::from_value(actor_object(&cfg, &a, at, 3)).unwrap();
        assert_eq!(actor.name, "my-actor");
        let build: apify_core::models::Build = serde_json::from_value(build_object(&cfg, &a, at)).unwrap();
        assert_eq!(build.id, a.build_id());
    }

    #[test]
    fn an_actors_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actors.json");
        std::fs::write(&path, br#"{"actors": {"a": {"command": "echo a", "env": {"X": "1"}, "timeoutSecs": 5}}}"#)
            .unwrap();
        let actors = read_actors_file(&path).unwrap();
        assert_eq!(actors.len(), 1);
        assert_eq!(actors[0].env["X"], "1");
        assert_eq!(actors[0].timeout_secs, 5);
        std::fs::write(&path, br#"{"actors": {"a": {"cmd": "echo a"}}}"#).unwrap();
        let e = read_actors_file(&path).unwrap_err().to_string();
        assert!(e.contains("unknown field") && e.contains("actors.json"), "{e}");
    }
}
