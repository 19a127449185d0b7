//! Actors created through the API (`POST /v2/acts`): kept in `actors/<id>.json`, their
//! versions' source files written to `actors/<id>/<version>/`, and run from there with the
//! command their sources name (a Dockerfile's `CMD`, else `main.py`, `src/__main__.py`,
//! `main.js` or a `package.json` start script). Actors declared with `--actor` stay
//! read-only.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::actors::{self, LocalActor};
use super::records;
use super::{Owner, Platform, not_found, now};
use crate::api::{ApiFailure, ApiResult, Call, data, method_not_allowed, no_content};
use crate::fsio::Durability;

/// The folder of the created Actors inside the storage folder.
pub(crate) const ACTORS_DIR: &str = "actors";

/// One file of a `SOURCE_FILES` version (`{"name", "format": "TEXT" | "BASE64", "content"}`,
/// or `{"name", "folder": true}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SourceFile {
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) folder: bool,
}

/// A version's environment variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvVar {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) value: String,
    #[serde(default)]
    pub(crate) is_secret: bool,
}

/// A version: what the platform calls `Version`, `SOURCE_FILES` only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionRecord {
    pub(crate) version_number: String,
    pub(crate) source_type: String,
    #[serde(default)]
    pub(crate) source_files: Vec<SourceFile>,
    #[serde(default)]
    pub(crate) env_vars: Vec<EnvVar>,
    #[serde(default)]
    pub(crate) build_tag: Option<String>,
    #[serde(default)]
    pub(crate) apply_env_vars_to_build: bool,
}

/// What `actors/<id>.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActorRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_at: String,
    pub(crate) modified_at: String,
    #[serde(default)]
    pub(crate) versions: Vec<VersionRecord>,
    #[serde(default)]
    pub(crate) default_run_options: Map<String, Value>,
    /// The other fields a client set (`title`, `description`, `seoTitle`, ...), kept as given.
    #[serde(default, flatten)]
    pub(crate) extra: BTreeMap<String, Value>,
}

fn invalid(message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, "invalid-parameter", message)
}

fn check_version_number(v: &str) -> ApiResult<()> {
    let ok = v.split_once('.').is_some_and(|(a, b)| {
        [a, b].iter().all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|c| c.is_ascii_digit()))
    });
    if ok { Ok(()) } else { Err(invalid(format!("versionNumber {v:?} must be MAJOR.MINOR, e.g. \"0.1\""))) }
}

/// A source file's path: relative, with no `..`, and not hidden behind a NUL.
fn check_file_name(name: &str) -> ApiResult<PathBuf> {
    let path = Path::new(name);
    let ok = !name.is_empty()
        && !name.contains('\0')
        && path.components().all(|c| matches!(c, Component::Normal(p) if p.len() <= 255));
    if ok {
        Ok(path.to_owned())
    } else {
        Err(invalid(format!("source file name {name:?} must be a relative path without '..'")))
    }
}

impl SourceFile {
    fn bytes(&self) -> ApiResult<Vec<u8>> {
        let content = self.content.as_deref().unwrap_or("");
        match self.format.as_deref().unwrap_or("TEXT") {
            "TEXT" => Ok(content.as_bytes().to_vec()),
            "BASE64" => base64::engine::general_purpose::STANDARD
                .decode(content.trim())
                .map_err(|e| invalid(format!("source file {:?} is not valid base64: {e}", self.name))),
            other => Err(invalid(format!("source file {:?} has format {other:?}: use TEXT or BASE64", self.name))),
        }
    }
}

fn check_version(v: &Value) -> ApiResult<VersionRecord> {
    let version: VersionRecord =
        serde_json::from_value(v.clone()).map_err(|e| invalid(format!("the version is invalid: {e}")))?;
    check_version_number(&version.version_number)?;
    if version.source_type != "SOURCE_FILES" {
        return Err(invalid(format!(
            "sourceType {:?} is not built by the local platform: give the sources as SOURCE_FILES",
            version.source_type
        )));
    }
    for f in &version.source_files {
        check_file_name(&f.name)?;
        if !f.folder {
            f.bytes()?;
        }
    }
    for e in &version.env_vars {
        check_env_name(&e.name)?;
    }
    Ok(version)
}

fn check_env_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("environment variable name {name:?} must be letters, digits and '_'")))
    }
}

/// `sh` quoting of one word.
fn quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:".contains(&b)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The command a version's sources name, if any.
pub(crate) fn command_of(files: &[SourceFile]) -> Option<String> {
    let text = |name: &str| {
        files
            .iter()
            .find(|f| !f.folder && f.name == name)
            .and_then(|f| f.bytes().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let has = |name: &str| files.iter().any(|f| !f.folder && f.name == name);
    for dockerfile in ["Dockerfile", ".actor/Dockerfile"] {
        if let Some(d) = text(dockerfile) {
            let words = |line: &str| -> Option<String> {
                let rest = line.trim();
                match serde_json::from_str::<Vec<String>>(rest) {
                    Ok(argv) if !argv.is_empty() => Some(argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")),
                    _ => (!rest.is_empty() && !rest.starts_with('[')).then(|| rest.to_owned()),
                }
            };
            let last = |keyword: &str| {
                d.lines().rev().find_map(|l| {
                    let l = l.trim_start();
                    let (k, rest) = l.split_once(char::is_whitespace)?;
                    k.eq_ignore_ascii_case(keyword).then(|| words(rest)).flatten()
                })
            };
            let shell_entrypoint = d.lines().rev().any(|l| {
                l.trim_start().split_once(char::is_whitespace).is_some_and(|(k, rest)| {
                    k.eq_ignore_ascii_case("ENTRYPOINT") && !rest.trim_start().starts_with('[')
                })
            });
            // Docker ignores CMD after a shell-form ENTRYPOINT.
            let cmd = if shell_entrypoint { None } else { last("CMD") };
            match (last("ENTRYPOINT"), cmd) {
                (Some(e), Some(c)) => return Some(format!("{e} {c}")),
                (Some(one), None) | (None, Some(one)) => return Some(one),
                (None, None) => {}
            }
        }
    }
    if has("main.py") {
        return Some("python3 main.py".into());
    }
    if has("src/__main__.py") {
        return Some("python3 -m src".into());
    }
    if has("main.js") {
        return Some("node main.js".into());
    }
    let package: Option<Value> = text("package.json").and_then(|p| serde_json::from_str(&p).ok());
    package.filter(|p| p["scripts"]["start"].is_string()).map(|_| "npm start --silent".into())
}

impl ActorRecord {
    /// The version runs use: the one tagged `latest`, else the highest.
    fn running_version(&self) -> Option<&VersionRecord> {
        let number = |v: &VersionRecord| {
            let (a, b) = v.version_number.split_once('.').unwrap_or(("0", "0"));
            (a.parse::<u32>().unwrap_or(0), b.parse::<u32>().unwrap_or(0))
        };
        self.versions
            .iter()
            .find(|v| v.build_tag.as_deref() == Some("latest"))
            .or_else(|| self.versions.iter().max_by_key(|v| number(v)))
    }

    /// The Actor as the platform runs it: its command (empty when its sources name none)
    /// in its version's folder, with the version's env vars and the default run options.
    pub(crate) fn to_local(&self, root: &Path) -> LocalActor {
        let version = self.running_version();
        let opt = |k: &str| self.default_run_options.get(k).and_then(Value::as_u64);
        LocalActor {
            id: self.id.clone(),
            name: self.name.clone(),
            command: version.and_then(|v| command_of(&v.source_files)).unwrap_or_default(),
            env: version
                .map(|v| v.env_vars.iter().map(|e| (e.name.clone(), e.value.clone())).collect())
                .unwrap_or_default(),
            timeout_secs: opt("timeoutSecs").unwrap_or(0),
            memory_mbytes: opt("memoryMbytes").unwrap_or(1024),
            workdir: version.map(|v| source_dir(root, &self.id, &v.version_number)),
        }
    }

    fn apply(&mut self, fields: &Map<String, Value>, now: &str) -> ApiResult<()> {
        let mut a = self.clone();
        if let Some(n) = fields.get("name").filter(|n| !n.is_null()) {
            let Value::String(n) = n else { return Err(invalid(format!("name must be a string, got {n}"))) };
            if LocalActor::new(n, "true").is_err() {
                return Err(invalid(format!(
                    "Actor name {n:?} is invalid: use 1 to 63 letters, digits and inner hyphens"
                )));
            }
            a.name = n.clone();
        }
        if let Some(v) = fields.get("versions").filter(|v| !v.is_null()) {
            let Value::Array(items) = v else { return Err(invalid("versions must be an array")) };
            a.versions = items.iter().map(check_version).collect::<ApiResult<_>>()?;
            let mut numbers: Vec<&str> = a.versions.iter().map(|v| v.version_number.as_str()).collect();
            numbers.sort_unstable();
            if numbers.windows(2).any(|w| w[0] == w[1]) {
                return Err(invalid("two versions have the same versionNumber"));
            }
        }
        if let Some(o) = fields.get("defaultRunOptions").filter(|o| !o.is_null()) {
            let Value::Object(o) = o else { return Err(invalid("defaultRunOptions must be an object")) };
            for (k, v) in o {
                if matches!(k.as_str(), "timeoutSecs" | "memoryMbytes") && !v.is_null() && v.as_u64().is_none() {
                    return Err(invalid(format!("defaultRunOptions.{k} must be a non-negative integer, got {v}")));
                }
                a.default_run_options.insert(k.clone(), v.clone());
            }
        }
        const OWN: &[&str] = &[
            "id",
            "userId",
            "username",
            "createdAt",
            "modifiedAt",
            "stats",
            "taggedBuilds",
            "name",
            "versions",
            "defaultRunOptions",
        ];
        records::merge_extra(&mut a.extra, fields, OWN);
        a.modified_at = now.to_owned();
        *self = a;
        Ok(())
    }
}

fn source_dir(root: &Path, id: &str, version: &str) -> PathBuf {
    root.join(ACTORS_DIR).join(id).join(version)
}

/// Writes the record and the sources of the versions whose files changed since `old`:
/// each folder is written beside and swapped into place by renames, so a run never sees
/// half of its sources, and an unchanged version's folder is left alone (runs work in it).
fn save(root: &Path, a: &ActorRecord, old: Option<&ActorRecord>, durability: Durability) -> io::Result<()> {
    let dir = root.join(ACTORS_DIR).join(&a.id);
    std::fs::create_dir_all(&dir)?;
    for v in &a.versions {
        let unchanged = old.is_some_and(|o| {
            o.versions.iter().any(|ov| ov.version_number == v.version_number && ov.source_files == v.source_files)
        });
        if unchanged && dir.join(&v.version_number).is_dir() {
            continue;
        }
        let staged = dir.join(format!(".{}.{}", v.version_number, crate::storage::new_id()));
        let written = (|| -> io::Result<()> {
            std::fs::create_dir_all(&staged)?;
            for f in &v.source_files {
                let path = staged.join(&f.name);
                if f.folder {
                    std::fs::create_dir_all(&path)?;
                    continue;
                }
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, f.bytes().map_err(|e| io::Error::other(e.message))?)?;
            }
            let target = dir.join(&v.version_number);
            let aside = dir.join(format!(".{}.old.{}", v.version_number, crate::storage::new_id()));
            let had = target.exists();
            if had {
                std::fs::rename(&target, &aside)?;
            }
            std::fs::rename(&staged, &target)?;
            if had {
                let _ = std::fs::remove_dir_all(&aside);
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(e);
        }
    }
    // Folders of versions that are gone go too.
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !a.versions.iter().any(|v| v.version_number == name) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    records::save(&root.join(ACTORS_DIR), &a.id, a, durability)
}

/// Every created Actor under `root`.
pub(crate) fn load_all(root: &Path) -> Vec<ActorRecord> {
    records::load_dir(&root.join(ACTORS_DIR), "Actor")
}

fn version_object(v: &VersionRecord) -> Value {
    let mut o = serde_json::to_value(v).unwrap_or_default();
    o["envVars"] = v.env_vars.iter().map(env_object).collect();
    o
}

fn env_object(e: &EnvVar) -> Value {
    // A secret's value is not shown, as on the platform.
    json!({"name": e.name, "value": if e.is_secret { None } else { Some(&e.value) }, "isSecret": e.is_secret})
}

impl Platform {
    /// A created Actor's record, or the reason it cannot be changed.
    fn created(&self, id: &str) -> ApiResult<ActorRecord> {
        let actor = self.actor(id)?;
        self.lock_created().get(&actor.id).cloned().ok_or_else(|| {
            ApiFailure::bad_request(format!(
                "Actor {:?} was declared when the emulator started (--actor) and cannot be changed through the API",
                actor.name
            ))
        })
    }

    /// Checks the name is free, saves and publishes the record. The caller holds
    /// `created_saving` from before it read the record until now, so no change is lost.
    async fn store_created(&self, a: ActorRecord, _held: &tokio::sync::MutexGuard<'_, ()>) -> ApiResult<ActorRecord> {
        let old = self.lock_created().get(&a.id).cloned();
        let taken = self.all_actors().iter().any(|o| o.name == a.name && o.id != a.id);
        if taken {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                "actor-name-not-unique",
                format!("An Actor named {:?} already exists", a.name),
            ));
        }
        let root = self.api.storages().config().root.clone();
        let durability = self.api.storages().config().durability;
        let saved = a.clone();
        let written = tokio::task::spawn_blocking(move || save(&root, &saved, old.as_ref(), durability))
            .await
            .map_err(io::Error::other);
        if let Err(e) = written.and_then(|r| r) {
            tracing::error!(actor_id = %a.id, error = %e, "saving an Actor failed");
            return Err(ApiFailure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-server-error",
                format!("saving the Actor failed: {e}"),
            ));
        }
        self.lock_created().insert(a.id.clone(), a.clone());
        Ok(a)
    }

    pub(super) fn created_object(&self, a: &ActorRecord) -> Value {
        let local = a.to_local(&self.api.storages().config().root);
        let total = self.runs_of(Owner::Actor(&a.id)).len();
        let mut o = actors::actor_object(self.api.config(), &local, &a.created_at, total);
        o["modifiedAt"] = json!(a.modified_at);
        o["title"] = a.extra.get("title").cloned().unwrap_or(Value::Null);
        o["description"] = a.extra.get("description").cloned().unwrap_or(Value::Null);
        o["versions"] = a.versions.iter().map(version_object).collect();
        if let Value::Object(m) = &mut o {
            for (k, v) in &a.extra {
                m.insert(k.clone(), v.clone());
            }
        }
        o
    }

    /// `POST /v2/acts`.
    pub(super) async fn create_actor(&self, call: &Call<'_>) -> ApiResult<Response<Bytes>> {
        let body = call.json()?;
        let Value::Object(fields) = &body else {
            return Err(ApiFailure::bad_request("the Actor must be a JSON object"));
        };
        if !fields.get("name").is_some_and(Value::is_string) {
            return Err(ApiFailure::new(StatusCode::BAD_REQUEST, "parameter-required", "name is required"));
        }
        let at = now();
        let mut a = ActorRecord {
            id: crate::storage::new_id(),
            name: String::new(),
            created_at: at.clone(),
            modified_at: at.clone(),
            versions: Vec::new(),
            default_run_options: Map::new(),
            extra: BTreeMap::new(),
        };
        a.apply(fields, &at)?;
        let held = self.created_saving.lock().await;
        let a = self.store_created(a, &held).await?;
        Ok(data(StatusCode::CREATED, self.created_object(&a)))
    }

    /// `PUT` and `DELETE /v2/acts/{id}`, and the writes of its versions and env vars.
    pub(super) async fn change_actor(&self, id: &str, tail: &[&str], call: &Call<'_>) -> ApiResult<Response<Bytes>> {
        let m = call.method;
        let held = self.created_saving.lock().await;
        let mut a = self.created(id)?;
        let at = now();
        match tail {
            [] => match *m {
                Method::PUT => {
                    let body = call.json()?;
                    let Value::Object(fields) = &body else {
                        return Err(ApiFailure::bad_request("the Actor must be a JSON object"));
                    };
                    a.apply(fields, &at)?;
                    let a = self.store_created(a, &held).await?;
                    Ok(data(StatusCode::OK, self.created_object(&a)))
                }
                Method::DELETE => {
                    let root = self.api.storages().config().root.join(ACTORS_DIR);
                    let aid = a.id.clone();
                    let removed = tokio::task::spawn_blocking(move || {
                        records::remove(&root, &aid)?;
                        let _ = std::fs::remove_dir_all(root.join(&aid));
                        Ok::<_, io::Error>(())
                    })
                    .await
                    .map_err(io::Error::other)
                    .and_then(|r| r);
                    removed.map_err(|e| {
                        ApiFailure::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal-server-error",
                            format!("deleting the Actor failed: {e}"),
                        )
                    })?;
                    self.lock_created().remove(&a.id);
                    Ok(no_content())
                }
                _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
            },
            ["versions"] => match *m {
                Method::GET => Ok(data(
                    StatusCode::OK,
                    json!({"total": a.versions.len(), "items": a.versions.iter().map(version_object).collect::<Vec<_>>()}),
                )),
                Method::POST => {
                    let v = check_version(&call.json()?)?;
                    if a.versions.iter().any(|o| o.version_number == v.version_number) {
                        return Err(ApiFailure::new(
                            StatusCode::CONFLICT,
                            "version-already-exists",
                            format!("Version {:?} already exists", v.version_number),
                        ));
                    }
                    a.versions.push(v.clone());
                    a.modified_at = at;
                    self.store_created(a, &held).await?;
                    Ok(data(StatusCode::CREATED, version_object(&v)))
                }
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            ["versions", v, rest @ ..] => {
                let index = a
                    .versions
                    .iter()
                    .position(|o| o.version_number == *v)
                    .ok_or_else(|| not_found(&format!("Version {v:?}")))?;
                match (rest, m.clone()) {
                    ([], Method::GET) => Ok(data(StatusCode::OK, version_object(&a.versions[index]))),
                    // `POST` is the API's keyed variant of `PUT`.
                    ([], Method::PUT | Method::POST) => {
                        let mut merged = serde_json::to_value(&a.versions[index]).unwrap_or_default();
                        if let (Value::Object(into), Value::Object(from)) = (&mut merged, call.json()?) {
                            into.extend(from);
                        }
                        let changed = check_version(&merged)?;
                        if changed.version_number != *v {
                            return Err(invalid("versionNumber cannot be changed; create a new version"));
                        }
                        a.versions[index] = changed.clone();
                        a.modified_at = at;
                        self.store_created(a, &held).await?;
                        Ok(data(StatusCode::OK, version_object(&changed)))
                    }
                    ([], Method::DELETE) => {
                        a.versions.remove(index);
                        a.modified_at = at;
                        self.store_created(a, &held).await?;
                        Ok(no_content())
                    }
                    ([], _) => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
                    (["env-vars"], Method::GET) => {
                        let items: Vec<Value> = a.versions[index].env_vars.iter().map(env_object).collect();
                        Ok(data(StatusCode::OK, json!({"total": items.len(), "items": items})))
                    }
                    (["env-vars"], Method::POST) => {
                        let e: EnvVar = serde_json::from_value(call.json()?)
                            .map_err(|e| invalid(format!("the env var is invalid: {e}")))?;
                        check_env_name(&e.name)?;
                        let vars = &mut a.versions[index].env_vars;
                        if vars.iter().any(|o| o.name == e.name) {
                            return Err(ApiFailure::new(
                                StatusCode::CONFLICT,
                                "env-var-already-exists",
                                format!("Environment variable {:?} already exists", e.name),
                            ));
                        }
                        vars.push(e.clone());
                        a.modified_at = at;
                        self.store_created(a, &held).await?;
                        Ok(data(StatusCode::CREATED, env_object(&e)))
                    }
                    (["env-vars"], _) => Err(method_not_allowed(m, &["GET", "POST"])),
                    (["env-vars", name], method) => {
                        let vars = &mut a.versions[index].env_vars;
                        let at_var = vars
                            .iter()
                            .position(|o| o.name == *name)
                            .ok_or_else(|| not_found(&format!("Environment variable {name:?}")))?;
                        match method {
                            Method::GET => Ok(data(StatusCode::OK, env_object(&vars[at_var]))),
                            Method::PUT | Method::POST => {
                                let mut merged = serde_json::to_value(&vars[at_var]).unwrap_or_default();
                                if let (Value::Object(into), Value::Object(from)) = (&mut merged, call.json()?) {
                                    into.extend(from);
                                }
                                let e: EnvVar = serde_json::from_value(merged)
                                    .map_err(|e| invalid(format!("the env var is invalid: {e}")))?;
                                check_env_name(&e.name)?;
                                if vars.iter().enumerate().any(|(i, o)| i != at_var && o.name == e.name) {
                                    return Err(ApiFailure::new(
                                        StatusCode::CONFLICT,
                                        "env-var-already-exists",
                                        format!("Environment variable {:?} already exists", e.name),
                                    ));
                                }
                                vars[at_var] = e.clone();
                                a.modified_at = at;
                                self.store_created(a, &held).await?;
                                Ok(data(StatusCode::OK, env_object(&e)))
                            }
                            Method::DELETE => {
                                vars.remove(at_var);
                                a.modified_at = at;
                                self.store_created(a, &held).await?;
                                Ok(no_content())
                            }
                            _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
                        }
                    }
                    _ => Err(not_found("Actor version endpoint")),
                }
            }
            _ => Err(not_found("Actor endpoint")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, content: &str) -> SourceFile {
        SourceFile { name: name.into(), format: None, content: Some(content.into()), folder: false }
    }

    #[test]
    fn the_command_comes_from_the_sources() {
        let docker = |d: &str| command_of(&[file("Dockerfile", d), file("main.py", "")]);
        assert_eq!(docker("FROM x\nCMD [\"python3\", \"-m\", \"src\"]\n").as_deref(), Some("python3 -m src"));
        assert_eq!(docker("FROM x\nCMD npm start --silent").as_deref(), Some("npm start --silent"));
        assert_eq!(
            docker("ENTRYPOINT [\"sh\", \"-c\"]\ncmd [\"echo 'hi there'\"]").as_deref(),
            Some("sh -c 'echo '\\''hi there'\\'''")
        );
        assert_eq!(docker("FROM x").as_deref(), Some("python3 main.py"), "no CMD: the entry file");
        assert_eq!(command_of(&[file("src/__main__.py", "")]).as_deref(), Some("python3 -m src"));
        assert_eq!(command_of(&[file("main.js", "")]).as_deref(), Some("node main.js"));
        assert_eq!(
            command_of(&[file("package.json", r#"{"scripts": {"start": "node x"}}"#)]).as_deref(),
            Some("npm start --silent")
        );
        assert_eq!(command_of(&[file("README.md", "")]), None);
    }

    #[test]
    fn bad_versions_are_refused() {
        let ok = json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "sourceFiles": [{"name": "a/b.txt", "content": "x"}, {"name": "c", "format": "BASE64", "content": "aGk="}]});
        assert!(check_version(&ok).is_ok());
        for bad in [
            json!({"versionNumber": "1", "sourceType": "SOURCE_FILES"}),
            json!({"versionNumber": "0.1", "sourceType": "GIT_REPO", "gitRepoUrl": "x"}),
            json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "sourceFiles": [{"name": "../x", "content": ""}]}),
            json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "sourceFiles": [{"name": "/etc/x", "content": ""}]}),
            json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "sourceFiles": [{"name": "x", "format": "BASE64", "content": "!!"}]}),
            json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "envVars": [{"name": "1X", "value": ""}]}),
        ] {
            assert!(check_version(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sources_are_written_whole_and_old_versions_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = ActorRecord {
            id: "a1".into(),
            name: "made".into(),
            created_at: "t".into(),
            modified_at: "t".into(),
            versions: vec![check_version(&json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES", "sourceFiles": [{"name": "main.py", "content": "print(1)"}], "envVars": [{"name": "X", "value": "1"}]})).unwrap()],
            default_run_options: Map::new(),
            extra: BTreeMap::new(),
        };
        save(dir.path(), &a, None, Durability::Relaxed).unwrap();
        let local = a.to_local(dir.path());
        assert_eq!(local.command, "python3 main.py");
        assert_eq!(local.env["X"], "1");
        assert_eq!(std::fs::read_to_string(local.workdir.unwrap().join("main.py")).unwrap(), "print(1)");
        a.versions[0].version_number = "0.2".into();
        save(dir.path(), &a, None, Durability::Relaxed).unwrap();
        assert!(!dir.path().join(ACTORS_DIR).join("a1").join("0.1").exists());
        assert_eq!(load_all(dir.path()), vec![a]);
    }
}
