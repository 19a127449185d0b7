//! Tasks: a local Actor with saved run options and input, kept in
//! `actor_tasks/<id>.json` (one file each, rewritten atomically).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::records;
use super::{LocalActor, Owner, Platform, Routed, full, not_found, now, page};
use crate::api::{ApiConfig, ApiFailure, ApiResult, Call, data, method_not_allowed};
use crate::fsio::Durability;

/// The folder of the tasks inside the storage folder.
pub(crate) const TASKS_DIR: &str = "actor_tasks";

/// `TaskOptions`: the defaults of the task's runs; the query of a start overrides each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) memory_mbytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_total_charge_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) restart_on_error: Option<bool>,
}

/// What `<id>.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskRecord {
    pub(crate) id: String,
    pub(crate) act_id: String,
    pub(crate) name: String,
    pub(crate) created_at: String,
    pub(crate) modified_at: String,
    #[serde(default)]
    pub(crate) options: TaskOptions,
    /// A JSON object, or none.
    #[serde(default)]
    pub(crate) input: Option<Value>,
    /// The other fields a client set (`title`, `description`, `actorStandby`, ...), kept
    /// and returned as given: the local platform has no use for them but loses nothing.
    #[serde(default, flatten)]
    pub(crate) extra: BTreeMap<String, Value>,
}

/// Fields the task's own code handles, or the platform sets (a client's values for those
/// are ignored); the others are kept as given.
const OWN: &[&str] = &[
    "id",
    "userId",
    "username",
    "createdAt",
    "modifiedAt",
    "removedAt",
    "stats",
    "actName",
    "actUsername",
    "name",
    "options",
    "input",
    "actId",
];

fn invalid(message: String) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, "invalid-parameter", message)
}

/// The task name rule of the platform (that of storage names): 1 to 63 letters, digits and
/// inner hyphens.
pub(crate) fn validate_name(name: &str) -> ApiResult<()> {
    if super::actors::valid_name(name) {
        Ok(())
    } else {
        Err(invalid(format!("task name {name:?} is invalid: use 1 to 63 letters, digits and inner hyphens")))
    }
}

/// Checks an `options` object and lays it over `into`, field by field (a `null` clears one).
fn merge_options(into: &mut TaskOptions, options: &Value) -> ApiResult<()> {
    let Value::Object(fields) = options else {
        return match options {
            Value::Null => Ok(()),
            other => Err(invalid(format!("options must be an object, got {other}"))),
        };
    };
    let mut merged = serde_json::to_value(&*into).unwrap_or_default();
    if let Value::Object(m) = &mut merged {
        for (k, v) in fields {
            m.insert(k.clone(), v.clone());
        }
        m.retain(|_, v| !v.is_null());
    }
    let parsed: TaskOptions =
        serde_json::from_value(merged).map_err(|e| invalid(format!("the task's options are invalid: {e}")))?;
    if let Some(m) = parsed.memory_mbytes
        && (m < 128 || !m.is_power_of_two())
    {
        return Err(invalid(format!("options.memoryMbytes must be a power of 2 of at least 128, got {m}")));
    }
    *into = parsed;
    Ok(())
}

fn check_input(input: &Value) -> ApiResult<Option<Value>> {
    match input {
        Value::Null => Ok(None),
        Value::Object(_) => Ok(Some(input.clone())),
        other => Err(invalid(format!("the task's input must be a JSON object, got {other}"))),
    }
}

impl TaskRecord {
    /// A task from the body of `POST /v2/actor-tasks`; `act_id` is the resolved Actor.
    pub(crate) fn create(id: String, act_id: String, body: &Value, now: &str) -> ApiResult<Self> {
        let Value::Object(fields) = body else {
            return Err(ApiFailure::bad_request("the request body must be a JSON object with actId and name"));
        };
        let name = match fields.get("name") {
            Some(Value::String(n)) => n.clone(),
            _ => return Err(ApiFailure::new(StatusCode::BAD_REQUEST, "parameter-required", "name is required")),
        };
        validate_name(&name)?;
        let mut task = Self {
            id,
            act_id,
            name,
            created_at: now.to_owned(),
            modified_at: now.to_owned(),
            options: TaskOptions::default(),
            input: None,
            extra: BTreeMap::new(),
        };
        task.apply(fields, now)?;
        Ok(task)
    }

    /// `PUT /v2/actor-tasks/{id}`: `name` and `input` are replaced, `options` changed field by
    /// field, anything else kept as given.
    pub(crate) fn update(&mut self, body: &Value, now: &str) -> ApiResult<()> {
        let Value::Object(fields) = body else {
            return Err(ApiFailure::bad_request("the request body must be a JSON object"));
        };
        if let Some(name) = fields.get("name") {
            let Value::String(name) = name else { return Err(invalid(format!("name must be a string, got {name}"))) };
            validate_name(name)?;
            self.name = name.clone();
        }
        self.apply(fields, now)
    }

    fn apply(&mut self, fields: &Map<String, Value>, now: &str) -> ApiResult<()> {
        // Everything is checked before anything changes: a refused update changes nothing.
        let mut options = self.options.clone();
        if let Some(o) = fields.get("options") {
            merge_options(&mut options, o)?;
        }
        let input = match fields.get("input") {
            Some(i) => check_input(i)?,
            None => self.input.clone(),
        };
        self.options = options;
        self.input = input;
        records::merge_extra(&mut self.extra, fields, OWN);
        self.modified_at = now.to_owned();
        Ok(())
    }

    /// `PUT /v2/actor-tasks/{id}/input`: the fields given replace the input's, the others stay.
    pub(crate) fn update_input(&mut self, fields: &Value, now: &str) -> ApiResult<()> {
        let Value::Object(fields) = fields else {
            return Err(invalid(format!("the task's input must be a JSON object, got {fields}")));
        };
        let mut input = match self.input.take() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        input.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.input = Some(Value::Object(input));
        self.modified_at = now.to_owned();
        Ok(())
    }

    /// The input of a run: the task's input with the fields of `overrides` laid over it, as
    /// the platform merges them.
    pub(crate) fn run_input(&self, overrides: Option<&Value>) -> ApiResult<Option<Value>> {
        match overrides {
            None => Ok(self.input.clone()),
            Some(Value::Object(o)) => {
                let mut input = match &self.input {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                input.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(Some(Value::Object(input)))
            }
            Some(other) => Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid-input",
                format!("the input of a task's run must be a JSON object (merged into the task's input), got {other}"),
            )),
        }
    }

    /// Whether `id` names this task: its ID, or `username~name` (`username/name`).
    pub(crate) fn is_named_by(&self, id: &str, username: &str) -> bool {
        if id == self.id {
            return true;
        }
        match id.split_once(['~', '/']) {
            Some((user, name)) => name == self.name && (user.is_empty() || user == username),
            None => false,
        }
    }

    /// The platform's `Task` object.
    pub(crate) fn to_object(&self, cfg: &ApiConfig, total_runs: usize) -> Value {
        let mut o = Map::new();
        for (k, v) in &self.extra {
            o.insert(k.clone(), v.clone());
        }
        let fixed = json!({
            "id": self.id,
            "userId": cfg.user_id,
            "actId": self.act_id,
            "name": self.name,
            "username": cfg.username,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "removedAt": null,
            "stats": {"totalRuns": total_runs},
            "options": self.options,
            "input": self.input,
        });
        if let Value::Object(f) = fixed {
            o.extend(f);
        }
        Value::Object(o)
    }

    /// The platform's `TaskShort` (list items).
    pub(crate) fn to_short(&self, cfg: &ApiConfig, act_name: &str, total_runs: usize) -> Value {
        json!({
            "id": self.id,
            "userId": cfg.user_id,
            "actId": self.act_id,
            "actName": act_name,
            "name": self.name,
            "username": cfg.username,
            "actUsername": cfg.username,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "stats": {"totalRuns": total_runs},
        })
    }

    /// Writes `<id>.json` atomically.
    pub(crate) fn save(&self, root: &Path, durability: Durability) -> io::Result<()> {
        records::save(&root.join(TASKS_DIR), &self.id, self, durability)
    }

    pub(crate) fn remove(root: &Path, id: &str) -> io::Result<()> {
        records::remove(&root.join(TASKS_DIR), id)
    }

    /// Every task found under `root`, oldest first.
    pub(crate) fn load_all(root: &Path) -> Vec<Self> {
        let mut tasks: Vec<Self> = records::load_dir(&root.join(TASKS_DIR), "task");
        tasks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        tasks
    }
}

impl Platform {
    /// `/v2/actor-tasks/...`.
    pub(super) async fn task_route(
        self: &Arc<Self>,
        segs: &[&str],
        call: &Call<'_>,
        raw_rest: &impl Fn(usize) -> String,
        query: Option<&str>,
        parts: &http::request::Parts,
    ) -> ApiResult<Routed> {
        let m = call.method;
        let answer = |r: Response<Bytes>| Ok(Routed::Answer(full(r)));
        let cfg = self.api.config();
        match segs {
            [] => match *m {
                Method::GET => {
                    let tasks = self.tasks.lock().await;
                    let mut sorted: Vec<&TaskRecord> = tasks.values().collect();
                    sorted.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
                    let items = sorted
                        .into_iter()
                        .map(|t| {
                            let act_name = self.actor_by_id(&t.act_id).map(|a| a.name).unwrap_or_default();
                            t.to_short(cfg, &act_name, self.runs_of(Owner::Task(&t.id)).len())
                        })
                        .collect();
                    answer(data(StatusCode::OK, page(items, &call.query)?))
                }
                Method::POST => {
                    let body = call.json()?;
                    let act_id = match &body["actId"] {
                        Value::String(a) => self.actor(a)?.id.clone(),
                        _ => {
                            return Err(ApiFailure::new(
                                StatusCode::BAD_REQUEST,
                                "parameter-required",
                                "actId is required",
                            ));
                        }
                    };
                    let task = TaskRecord::create(crate::storage::new_id(), act_id, &body, &now())?;
                    let mut tasks = self.tasks.lock().await;
                    unique_name(&tasks, &task)?;
                    self.save_task(&task).await?;
                    tasks.insert(task.id.clone(), task.clone());
                    answer(data(StatusCode::CREATED, task.to_object(cfg, 0)))
                }
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            [id, tail @ ..] => {
                let task = self.task(id).await?;
                self.one_task_route(task, tail, call, raw_rest, query, parts).await
            }
        }
    }

    async fn one_task_route(
        self: &Arc<Self>,
        task: TaskRecord,
        tail: &[&str],
        call: &Call<'_>,
        raw_rest: &impl Fn(usize) -> String,
        query: Option<&str>,
        parts: &http::request::Parts,
    ) -> ApiResult<Routed> {
        let m = call.method;
        let answer = |r: Response<Bytes>| Ok(Routed::Answer(full(r)));
        let cfg = self.api.config();
        let total = || self.runs_of(Owner::Task(&task.id)).len();
        match tail {
            [] => match *m {
                Method::GET => answer(data(StatusCode::OK, task.to_object(cfg, total()))),
                Method::PUT => {
                    let body = call.json()?;
                    let mut tasks = self.tasks.lock().await;
                    let mut changed = tasks.get(&task.id).cloned().ok_or_else(|| not_found("Actor task"))?;
                    changed.update(&body, &now())?;
                    unique_name(&tasks, &changed)?;
                    self.save_task(&changed).await?;
                    tasks.insert(changed.id.clone(), changed.clone());
                    answer(data(StatusCode::OK, changed.to_object(cfg, total())))
                }
                Method::DELETE => {
                    let mut tasks = self.tasks.lock().await;
                    if !tasks.contains_key(&task.id) {
                        return Err(not_found("Actor task"));
                    }
                    let root = self.api.storages().config().root.clone();
                    let id = task.id.clone();
                    blocking(move || TaskRecord::remove(&root, &id)).await?;
                    tasks.remove(&task.id);
                    answer(crate::api::no_content())
                }
                _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
            },
            ["input"] => match *m {
                Method::GET => answer(crate::api::json_response(StatusCode::OK, &task.input.unwrap_or(Value::Null))),
                Method::PUT => {
                    let body = call.json()?;
                    let mut tasks = self.tasks.lock().await;
                    let mut changed = tasks.get(&task.id).cloned().ok_or_else(|| not_found("Actor task"))?;
                    changed.update_input(&body, &now())?;
                    self.save_task(&changed).await?;
                    tasks.insert(changed.id.clone(), changed.clone());
                    answer(crate::api::json_response(StatusCode::OK, &changed.input.unwrap_or(Value::Null)))
                }
                _ => Err(method_not_allowed(m, &["GET", "PUT"])),
            },
            ["runs"] => match *m {
                Method::GET => self.list_runs(Owner::Task(&task.id), call).map(|r| Routed::Answer(full(r))),
                Method::POST => {
                    let actor = self.task_actor(&task)?;
                    let run = self.start(&actor, Some(&task), call).await?;
                    if let Some(secs) = call.query.u64("waitForFinish")? {
                        run.wait_finished(Duration::from_secs(secs).min(self.options.max_wait)).await;
                    }
                    answer(data(StatusCode::CREATED, self.run_object(&run)))
                }
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            [kind @ ("run-sync" | "run-sync-get-dataset-items")] => {
                if *m != Method::GET && *m != Method::POST {
                    return Err(method_not_allowed(m, &["GET", "POST"]));
                }
                let actor = self.task_actor(&task)?;
                self.run_sync(&actor, Some(&task), kind, call, query, parts).await
            }
            ["webhooks"] => {
                super::only_get(m)?;
                let id = task.id.clone();
                let list =
                    self.webhooks.list(&call.query, |w| w.condition.actor_task_id.as_deref() == Some(&id)).await?;
                answer(data(StatusCode::OK, list))
            }
            ["runs", "last", tail @ ..] => {
                let run = self.last_run(Owner::Task(&task.id), &call.query)?;
                self.run_route(run, tail, call, &raw_rest(4), query, parts).await
            }
            _ => Err(not_found("Actor task endpoint")),
        }
    }

    /// A task by its ID or `username~name`.
    pub(super) async fn task(&self, id: &str) -> ApiResult<TaskRecord> {
        let username = &self.api.config().username;
        self.tasks
            .lock()
            .await
            .values()
            .find(|t| t.is_named_by(id, username))
            .cloned()
            .ok_or_else(|| not_found(&format!("Actor task {id:?}")))
    }

    /// The Actor a task runs, if it is still declared.
    fn task_actor(&self, task: &TaskRecord) -> ApiResult<LocalActor> {
        self.actor_by_id(&task.act_id).ok_or_else(|| {
            not_found(&format!(
                "Actor {:?} of task {:?} (it is not declared in this emulator any more)",
                task.act_id, task.name
            ))
        })
    }

    async fn save_task(&self, task: &TaskRecord) -> ApiResult<()> {
        let root = self.api.storages().config().root.clone();
        let durability = self.api.storages().config().durability;
        let task = task.clone();
        blocking(move || task.save(&root, durability)).await
    }
}

/// A task's name is unique among the user's tasks.
fn unique_name(tasks: &BTreeMap<String, TaskRecord>, task: &TaskRecord) -> ApiResult<()> {
    if tasks.values().any(|t| t.name == task.name && t.id != task.id) {
        return Err(ApiFailure::new(
            StatusCode::CONFLICT,
            "actor-name-not-unique",
            format!("An Actor task named {:?} already exists", task.name),
        ));
    }
    Ok(())
}

/// File work off the async threads; its failure is a 500 that says what failed.
async fn blocking(f: impl FnOnce() -> io::Result<()> + Send + 'static) -> ApiResult<()> {
    let done = tokio::task::spawn_blocking(f).await.map_err(io::Error::other).and_then(|r| r);
    done.map_err(|e| {
        tracing::error!(error = %e, "saving a task failed");
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-server-error",
            format!("saving the task failed: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(body: Value) -> ApiResult<TaskRecord> {
        TaskRecord::create("t1".into(), "a1".into(), &body, "2026-12-07T10:00:00.000Z")
    }

    #[test]
    fn options_change_field_by_field_and_bad_ones_change_nothing() {
        let mut t = task(json!({"name": "my-task", "options": {"memoryMbytes": 256, "build": "latest"}, "title": "T"}))
            .unwrap();
        t.update(&json!({"options": {"timeoutSecs": 5, "build": null}}), "2026-12-07T10:00:01.000Z").unwrap();
        assert_eq!(
            t.options,
            TaskOptions { memory_mbytes: Some(256), timeout_secs: Some(5), ..TaskOptions::default() }
        );
        let before = t.clone();
        for bad in [
            json!({"options": {"memoryMbytes": 100}}),
            json!({"options": {"timeoutSecs": "soon"}}),
            json!({"input": [1]}),
            json!({"name": "no spaces"}),
            json!({"name": 5}),
        ] {
            assert!(t.update(&bad, "2026-12-07T10:00:02.000Z").is_err(), "{bad}");
        }
        assert_eq!(t, before);
        assert_eq!(t.to_object(&ApiConfig::default(), 0)["title"], "T");
    }

    #[test]
    fn a_runs_input_is_laid_over_the_tasks() {
        let mut t = task(json!({"name": "t", "input": {"a": 1, "b": {"x": 1}}})).unwrap();
        assert_eq!(t.run_input(None).unwrap(), Some(json!({"a": 1, "b": {"x": 1}})));
        assert_eq!(
            t.run_input(Some(&json!({"b": {"y": 2}, "c": 3}))).unwrap(),
            Some(json!({"a": 1, "b": {"y": 2}, "c": 3}))
        );
        assert!(t.run_input(Some(&json!("text"))).is_err());
        t.update_input(&json!({"a": 2}), "2026-12-07T10:00:01.000Z").unwrap();
        assert_eq!(t.input, Some(json!({"a": 2, "b": {"x": 1}})));
        assert!(task(json!({"options": {}})).is_err(), "a name is required");
    }

    #[test]
    fn tasks_round_trip_through_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let t = task(json!({"name": "t", "input": {"a": 1}, "description": "d"})).unwrap();
        t.save(dir.path(), Durability::Relaxed).unwrap();
        std::fs::write(dir.path().join(TASKS_DIR).join("broken.json"), b"{").unwrap();
        assert_eq!(TaskRecord::load_all(dir.path()), vec![t.clone()]);
        TaskRecord::remove(dir.path(), &t.id).unwrap();
        TaskRecord::remove(dir.path(), &t.id).unwrap();
        assert!(TaskRecord::load_all(dir.path()).is_empty());
    }
}
