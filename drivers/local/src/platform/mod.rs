//! The emulator as a small local platform: local Actors run as programs, with runs,
//! logs and builds served through the real API routes, and every alias route (a run's
//! default storages, an Actor's last run) mapped onto the storage API.
//!
//! Runs live in the storage folder (`actor_runs/<id>/run.json` and `log.txt`, see
//! `docs/local-platform.md`); a run whose process was lost when the emulator stopped is
//! marked `FAILED` when the folder is served again.

mod actors;
mod created;
mod logs;
mod process;
mod records;
mod runs;
mod tasks;
mod template;
mod webhooks;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

pub use actors::{ActorSpecError, LocalActor, check_unique, read_actors_file};
pub use webhooks::WebhookRetries;

use crate::api::{ApiFailure, ApiResult, Call, LocalApi, Query, data, method_not_allowed};
use crate::format::timestamp::format_api;
use logs::{AnsiStripper, ChannelBody};
use runs::{RunRecord, Status};
use tasks::TaskRecord;
use webhooks::Webhooks;

/// A response body of the emulator: whole, or streamed (a followed log).
pub(crate) type ServerBody = BoxBody<Bytes, Infallible>;

/// Longest hold of a `waitForFinish` request, as on the platform.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Longest wait of `run-sync` for the run to finish, as on the platform.
const RUN_SYNC_WAIT: Duration = Duration::from_secs(300);

/// What the local platform runs and how.
#[derive(Debug, Clone)]
pub struct PlatformOptions {
    /// The Actors that can be run.
    pub actors: Vec<LocalActor>,
    /// Most runs at once; a start beyond gets `concurrent-runs-limit-exceeded` (402).
    pub max_concurrent_runs: usize,
    /// Where the commands run (`apify-local serve`: its working directory).
    pub workdir: PathBuf,
    /// From SIGTERM to SIGKILL on abort, timeout and shutdown.
    pub kill_grace: Duration,
    /// The same for `abort?gracefully=true`.
    pub graceful_abort_grace: Duration,
    /// Longest hold of a `waitForFinish` request (the platform's is 60 s).
    pub max_wait: Duration,
    /// How webhook dispatches are retried.
    pub webhook_retries: WebhookRetries,
}

impl Default for PlatformOptions {
    fn default() -> Self {
        Self {
            actors: Vec::new(),
            max_concurrent_runs: 32,
            workdir: PathBuf::from("."),
            kill_grace: Duration::from_secs(3),
            graceful_abort_grace: Duration::from_secs(30),
            max_wait: MAX_WAIT,
            webhook_retries: WebhookRetries::default(),
        }
    }
}

/// A message to a run's supervisor.
#[derive(Debug)]
pub(crate) enum Control {
    Abort {
        graceful: bool,
    },
    Shutdown,
    Reboot,
    /// Continue the run as `target`, its input under `input_key`.
    Metamorph {
        target: LocalActor,
        input_key: String,
    },
}

/// A run known to the emulator.
pub(crate) struct RunHandle {
    pub(crate) id: String,
    record: Mutex<RunRecord>,
    /// Bumped on every change of the record and every write to the log.
    changed: watch::Sender<u64>,
    control: Mutex<Option<mpsc::UnboundedSender<Control>>>,
    /// Saves of the record are written in the order they were made.
    saving: tokio::sync::Mutex<()>,
}

impl RunHandle {
    fn new(record: RunRecord) -> Self {
        Self {
            id: record.id.clone(),
            record: Mutex::new(record),
            changed: watch::channel(0).0,
            control: Mutex::new(None),
            saving: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn record(&self) -> RunRecord {
        self.record.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn status(&self) -> Status {
        self.record.lock().unwrap_or_else(PoisonError::into_inner).status
    }

    pub(crate) fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Waits until the run is in a terminal status, or `max` has passed.
    async fn wait_finished(&self, max: Duration) {
        self.wait_until(max, |r| r.status.is_terminal()).await;
    }

    /// Waits until `done` holds for the record, or `max` has passed.
    async fn wait_until(&self, max: Duration, done: impl Fn(&RunRecord) -> bool) {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + max;
        while !done(&self.record()) {
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                return;
            }
        }
    }
}

/// The run side of the API.
pub(crate) struct Platform {
    api: Arc<LocalApi>,
    base_url: String,
    options: PlatformOptions,
    created_at: String,
    runs: Mutex<BTreeMap<String, Arc<RunHandle>>>,
    /// Held across a task's save, so saves land in the order the changes were made.
    tasks: tokio::sync::Mutex<BTreeMap<String, TaskRecord>>,
    webhooks: Arc<Webhooks>,
    /// Actors created through the API, by ID.
    created: Mutex<BTreeMap<String, created::ActorRecord>>,
    /// Held across a created Actor's save, so saves land in the order they were made.
    created_saving: tokio::sync::Mutex<()>,
    active: AtomicUsize,
    shutting_down: AtomicBool,
    supervisors: Mutex<tokio::task::JoinSet<()>>,
}

fn full(response: Response<Bytes>) -> Response<ServerBody> {
    response.map(|b| Full::new(b).boxed())
}

fn not_found(what: &str) -> ApiFailure {
    ApiFailure::new(StatusCode::NOT_FOUND, "record-not-found", format!("{what} was not found"))
}

fn page(items: Vec<Value>, q: &Query) -> ApiResult<Value> {
    let offset = q.u64("offset")?.unwrap_or(0) as usize;
    let limit = q.u64("limit")?.filter(|l| *l > 0).unwrap_or(1000).min(1000) as usize;
    let desc = q.bool("desc")?;
    let mut items = items;
    if desc {
        items.reverse();
    }
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    Ok(json!({"total": total, "offset": offset, "limit": limit, "desc": desc, "count": items.len(), "items": items}))
}

/// Whose runs: everyone's, an Actor's or a task's.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    Any,
    Actor(&'a str),
    Task(&'a str),
}

impl Owner<'_> {
    fn owns(self, r: &RunRecord) -> bool {
        match self {
            Self::Any => true,
            Self::Actor(id) => r.act_id == id,
            Self::Task(id) => r.actor_task_id.as_deref() == Some(id),
        }
    }
}

/// What the router decided: an answer, or a request for the storage API (a rewritten
/// alias route, or a storage route as it came), with the status to answer it with.
pub(crate) enum Routed {
    Answer(Response<ServerBody>),
    Storage(Request<Bytes>, Option<StatusCode>),
}

fn now() -> String {
    format_api(OffsetDateTime::now_utc())
}

impl Platform {
    /// Serves the runs found in the API's storage folder; a run that was in flight when the
    /// folder was last served is marked `FAILED` (its process is gone, or is stopped now).
    pub(crate) fn open(api: Arc<LocalApi>, base_url: String, options: PlatformOptions) -> Arc<Self> {
        let root = api.storages().config().root.clone();
        let durability = api.storages().config().durability;
        let mut runs = BTreeMap::new();
        for mut r in RunRecord::load_all(&root) {
            if !r.status.is_terminal() {
                if let Some(pgid) = r.process_group {
                    process::kill_leftover(pgid, &r.id);
                }
                r.status = Status::Failed;
                r.finished_at = Some(now());
                r.process_group = None;
                r.status_message = Some("The run's process was lost: the emulator stopped while it ran.".into());
                let log_path = RunRecord::dir(&root, &r.id).join(runs::LOG_FILE);
                if let Ok(mut log) = logs::LogWriter::open(&log_path) {
                    let _ = log.system_line(
                        "The run's process was lost: the emulator stopped while it ran.",
                        OffsetDateTime::now_utc(),
                    );
                }
                if let Err(e) = r.save(&root, durability) {
                    tracing::error!(run_id = %r.id, error = %e, "marking a lost run as failed failed");
                }
            }
            runs.insert(r.id.clone(), Arc::new(RunHandle::new(r)));
        }
        let webhooks = Webhooks::open(&root, durability, &api.config().user_id, options.webhook_retries);
        if tokio::runtime::Handle::try_current().is_ok() {
            webhooks.resume();
        }
        let made = created::load_all(&root).into_iter().map(|a| (a.id.clone(), a)).collect();
        Arc::new(Self {
            created: Mutex::new(made),
            created_saving: tokio::sync::Mutex::new(()),
            webhooks,
            api,
            base_url,
            options,
            created_at: now(),
            runs: Mutex::new(runs),
            tasks: tokio::sync::Mutex::new(
                TaskRecord::load_all(&root).into_iter().map(|t| (t.id.clone(), t)).collect(),
            ),
            active: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            supervisors: Mutex::new(tokio::task::JoinSet::new()),
        })
    }

    /// The storage API it stands on.
    pub(crate) fn api(&self) -> &Arc<LocalApi> {
        &self.api
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        RunRecord::dir(&self.api.storages().config().root, id)
    }

    /// Changes a run's record, saves it and wakes its waiters.
    pub(crate) async fn update(&self, run: &RunHandle, f: impl FnOnce(&mut RunRecord)) {
        let _order = run.saving.lock().await;
        let record = {
            let mut r = run.record.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut r);
            r.clone()
        };
        let root = self.api.storages().config().root.clone();
        // Only a finished run's record is worth an fsync: after a crash of the machine a run
        // that was in flight is FAILED anyway, whatever its record said; the rename keeps
        // every save whole either way.
        let durability = if record.status.is_terminal() {
            self.api.storages().config().durability
        } else {
            crate::fsio::Durability::Relaxed
        };
        let saved = tokio::task::spawn_blocking(move || record.save(&root, durability)).await;
        if let Ok(Err(e)) | Err(e) = saved.map_err(std::io::Error::other) {
            tracing::error!(run_id = %run.id, error = %e, "saving the run record failed");
        }
        run.bump();
    }

    /// Records the end of a run and frees its slot.
    pub(crate) async fn finish(
        &self,
        run: &RunHandle,
        status: Status,
        exit_code: Option<i64>,
        message: Option<String>,
        duration_millis: u64,
    ) {
        *run.control.lock().unwrap_or_else(PoisonError::into_inner) = None;
        // The slot is free before anyone can see the run finished, so a start right after
        // a finished wait is never refused.
        self.active.fetch_sub(1, Ordering::AcqRel);
        self.update(run, |r| {
            r.status = status;
            r.exit_code = exit_code;
            r.finished_at = Some(now());
            r.process_group = None;
            r.duration_millis = duration_millis;
            if message.is_some() {
                r.status_message = message;
                r.is_status_message_terminal = Some(true);
            }
        })
        .await;
        tracing::info!(run_id = %run.id, status = status.as_str(), exit_code, "run finished");
        let event = match status {
            Status::Succeeded => "ACTOR.RUN.SUCCEEDED",
            Status::TimedOut => "ACTOR.RUN.TIMED_OUT",
            Status::Aborted => "ACTOR.RUN.ABORTED",
            _ => "ACTOR.RUN.FAILED",
        };
        self.fire_run(run, event).await;
    }

    /// Fires a run event for the webhooks it concerns.
    async fn fire_run(&self, run: &RunHandle, event: &str) {
        let r = run.record();
        let data = json!({"actorId": r.act_id, "actorTaskId": r.actor_task_id, "actorRunId": r.id});
        self.webhooks.fire(event, data, r.to_object(self.api.config(), &self.base_url)).await;
    }

    /// Stops every run (SIGTERM, then SIGKILL) and waits for their supervisors.
    pub(crate) async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for run in self.runs.lock().unwrap_or_else(PoisonError::into_inner).values() {
            if let Some(tx) = run.control.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                let _ = tx.send(Control::Shutdown);
            }
        }
        let mut set = std::mem::take(&mut *self.supervisors.lock().unwrap_or_else(PoisonError::into_inner));
        while set.join_next().await.is_some() {}
    }

    /// A declared or created Actor by ID or name.
    fn actor(&self, id: &str) -> ApiResult<LocalActor> {
        let username = &self.api.config().username;
        self.all_actors()
            .into_iter()
            .find(|a| a.is_named_by(id, username))
            .ok_or_else(|| not_found(&format!("Actor {id:?}")))
    }

    /// The declared Actors, then those created through the API.
    fn all_actors(&self) -> Vec<LocalActor> {
        let root = &self.api.storages().config().root;
        let mut made: Vec<&created::ActorRecord> = Vec::new();
        let created = self.lock_created();
        made.extend(created.values());
        made.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        self.options.actors.iter().cloned().chain(made.into_iter().map(|a| a.to_local(root))).collect()
    }

    /// Whether `id` names an Actor created through the API.
    fn is_created(&self, id: &str) -> bool {
        let Ok(actor) = self.actor(id) else { return false };
        self.lock_created().contains_key(&actor.id)
    }

    fn lock_created(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, created::ActorRecord>> {
        self.created.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self, id: &str) -> ApiResult<Arc<RunHandle>> {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| not_found(&format!("Actor run {id:?}")))
    }

    /// Runs in start order, of all Actors, one Actor or one task.
    fn runs_of(&self, owner: Owner<'_>) -> Vec<Arc<RunHandle>> {
        let mut runs: Vec<(RunRecord, Arc<RunHandle>)> = self
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|h| (h.record(), h.clone()))
            .filter(|(r, _)| owner.owns(r))
            .collect();
        runs.sort_by(|(a, _), (b, _)| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
        runs.into_iter().map(|(_, h)| h).collect()
    }

    /// The last run of an Actor or task, filtered by `status` and `origin` as the last-run
    /// routes are.
    fn last_run(&self, owner: Owner<'_>, q: &Query) -> ApiResult<Arc<RunHandle>> {
        let status = match q.str("status") {
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                ApiFailure::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("unknown run status {s:?}"))
            })?),
            None => None,
        };
        let origin = q.str("origin");
        self.runs_of(owner)
            .into_iter()
            .rev()
            .find(|h| {
                let r = h.record();
                status.is_none_or(|s| s == r.status) && origin.is_none_or(|o| o == r.origin)
            })
            .ok_or_else(|| not_found("Actor run"))
    }

    fn run_object(&self, run: &RunHandle) -> Value {
        run.record().to_object(self.api.config(), &self.base_url)
    }

    /// Routes a request: the platform's routes are answered here, the storage routes go to
    /// the storage API.
    pub(crate) async fn route(self: &Arc<Self>, req: Request<Bytes>) -> Routed {
        let path = req.uri().path().to_owned();
        let rest = path.strip_prefix("/v2/").unwrap_or("");
        let raw: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let first = raw.first().copied().unwrap_or("");
        if !matches!(
            first,
            "acts"
                | "actors"
                | "actor-tasks"
                | "actor-runs"
                | "actor-builds"
                | "logs"
                | "users"
                | "webhooks"
                | "webhook-dispatches"
        ) {
            return Routed::Storage(req, None);
        }
        if let Err(f) = self.api.authorize_request(&req) {
            return Routed::Answer(full(f.into_response()));
        }
        let decoded: Vec<String> = raw.iter().map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
        let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
        let query_string = req.uri().query().map(str::to_owned);
        let (parts, body) = req.into_parts();
        let call = Call::new(&parts.method, Query::parse(query_string.as_deref()), &parts.headers, body);
        let raw_rest = |from: usize| raw[from.min(raw.len())..].join("/");
        let routed = self.dispatch(&segs, &call, raw_rest, query_string.as_deref(), &parts).await;
        match routed {
            Ok(r) => r,
            Err(f) => Routed::Answer(full(f.into_response())),
        }
    }

    async fn dispatch(
        self: &Arc<Self>,
        segs: &[&str],
        call: &Call<'_>,
        raw_rest: impl Fn(usize) -> String,
        query: Option<&str>,
        parts: &http::request::Parts,
    ) -> ApiResult<Routed> {
        let m = call.method;
        let answer = |r: Response<Bytes>| Ok(Routed::Answer(full(r)));
        // `/v2/acts` is the legacy name of `/v2/actors`.
        let segs: Vec<&str> = match segs {
            ["acts", rest @ ..] => std::iter::once("actors").chain(rest.iter().copied()).collect(),
            _ => segs.to_vec(),
        };
        match segs.as_slice() {
            ["users", who] => match *m {
                Method::GET
                    if *who == "me" || *who == self.api.config().username || *who == self.api.config().user_id =>
                {
                    answer(data(StatusCode::OK, self.user_object()))
                }
                Method::GET => Err(not_found(&format!("User {who:?}"))),
                _ => Err(method_not_allowed(m, &["GET"])),
            },
            ["actors"] => match *m {
                Method::GET => {
                    let items = self.all_actors().iter().map(|a| self.actor_short(a)).collect();
                    answer(data(StatusCode::OK, page(items, &call.query)?))
                }
                Method::POST => answer(self.create_actor(call).await?),
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            ["actors", id] => {
                let actor = &self.actor(id)?;
                match *m {
                    Method::GET => {
                        let made = self.lock_created().get(&actor.id).cloned();
                        if let Some(made) = made {
                            return answer(data(StatusCode::OK, self.created_object(&made)));
                        }
                        let total = self.runs_of(Owner::Actor(&actor.id)).len();
                        answer(data(
                            StatusCode::OK,
                            actors::actor_object(self.api.config(), actor, &self.created_at, total),
                        ))
                    }
                    _ => answer(self.change_actor(id, &[], call).await?),
                }
            }
            ["actors", id, tail @ ..]
                if tail.first() == Some(&"versions") && (*m != Method::GET || self.is_created(id)) =>
            {
                answer(self.change_actor(id, tail, call).await?)
            }
            ["actors", id, "versions"] => {
                let actor = &self.actor(id)?;
                only_get(m)?;
                let items = vec![actors::version_object(actor)];
                answer(data(StatusCode::OK, json!({"total": 1, "items": items})))
            }
            ["actors", id, "versions", v] => {
                let actor = &self.actor(id)?;
                only_get(m)?;
                if *v != actors::VERSION {
                    return Err(not_found(&format!("Version {v:?}")));
                }
                answer(data(StatusCode::OK, actors::version_object(actor)))
            }
            ["actors", id, "builds"] => {
                let actor = &self.actor(id)?;
                match *m {
                    Method::GET => answer(data(StatusCode::OK, page(vec![self.build_short(actor)], &call.query)?)),
                    // A local build has nothing to do: it is the one that always succeeded.
                    Method::POST => {
                        let build = self.build(actor);
                        let event = json!({"actorId": actor.id, "actorBuildId": actor.build_id()});
                        for kind in ["ACTOR.BUILD.CREATED", "ACTOR.BUILD.SUCCEEDED"] {
                            self.webhooks.fire(kind, event.clone(), build.clone()).await;
                        }
                        answer(data(StatusCode::CREATED, build))
                    }
                    _ => Err(method_not_allowed(m, &["GET", "POST"])),
                }
            }
            ["actors", id, "builds", "default"] => {
                let actor = &self.actor(id)?;
                only_get(m)?;
                answer(data(StatusCode::OK, self.build(actor)))
            }
            ["actors", id, "builds", build_id, tail @ ..] => {
                let actor = &self.actor(id)?;
                if *build_id != actor.build_id() {
                    return Err(not_found(&format!("Build {build_id:?}")));
                }
                self.build_route(actor, tail, call)
            }
            ["actor-builds"] => {
                only_get(m)?;
                let items = self.all_actors().iter().map(|a| self.build_short(a)).collect();
                answer(data(StatusCode::OK, page(items, &call.query)?))
            }
            ["actor-builds", build_id, tail @ ..] => {
                let actor = self
                    .all_actors()
                    .into_iter()
                    .find(|a| a.build_id() == *build_id)
                    .ok_or_else(|| not_found(&format!("Build {build_id:?}")))?;
                self.build_route(&actor, tail, call)
            }
            ["actors", id, "runs"] => {
                let actor = self.actor(id)?;
                match *m {
                    Method::GET => self.list_runs(Owner::Actor(&actor.id), call).map(|r| Routed::Answer(full(r))),
                    Method::POST => {
                        let run = self.start(&actor, None, call).await?;
                        if let Some(secs) = call.query.u64("waitForFinish")? {
                            run.wait_finished(Duration::from_secs(secs).min(self.options.max_wait)).await;
                        }
                        answer(data(StatusCode::CREATED, self.run_object(&run)))
                    }
                    _ => Err(method_not_allowed(m, &["GET", "POST"])),
                }
            }
            ["actors", id, kind @ ("run-sync" | "run-sync-get-dataset-items")] => {
                let actor = self.actor(id)?;
                if *m != Method::GET && *m != Method::POST {
                    return Err(method_not_allowed(m, &["GET", "POST"]));
                }
                self.run_sync(&actor, None, kind, call, query, parts).await
            }
            ["actors", id, "runs", "last", tail @ ..] => {
                let actor = &self.actor(id)?;
                let run = self.last_run(Owner::Actor(&actor.id), &call.query)?;
                self.run_route(run, tail, call, &raw_rest(4), query, parts).await
            }
            ["actors", id, "runs", run_id, tail @ ..] => {
                let actor = &self.actor(id)?;
                let run = self.run(run_id)?;
                if run.record().act_id != actor.id {
                    return Err(not_found(&format!("Actor run {run_id:?}")));
                }
                self.run_route(run, tail, call, &raw_rest(4), query, parts).await
            }
            ["actor-tasks", tail @ ..] => self.task_route(tail, call, &raw_rest, query, parts).await,
            ["actors", id, "webhooks"] => {
                let actor = &self.actor(id)?;
                only_get(m)?;
                let id = actor.id.clone();
                let list = self.webhooks.list(&call.query, |w| w.condition.actor_id.as_deref() == Some(&id)).await?;
                answer(data(StatusCode::OK, list))
            }
            ["webhooks" | "webhook-dispatches", ..] => {
                self.webhook_route(&segs, call).await.map(|r| Routed::Answer(full(r)))
            }
            ["actor-runs"] => {
                only_get(m)?;
                self.list_runs(Owner::Any, call).map(|r| Routed::Answer(full(r)))
            }
            ["actor-runs", run_id, tail @ ..] => {
                let run = self.run(run_id)?;
                self.run_route(run, tail, call, &raw_rest(2), query, parts).await
            }
            ["logs", run_id] => {
                only_get(m)?;
                let run = self.run(run_id)?;
                self.log(&run, call).await.map(Routed::Answer)
            }
            _ => Err(ApiFailure::new(
                StatusCode::NOT_FOUND,
                "page-not-found",
                format!("We have bad news: there is no API endpoint at {}", parts.uri.path()),
            )),
        }
    }

    fn build(&self, actor: &LocalActor) -> Value {
        actors::build_object(self.api.config(), actor, &self.created_at)
    }

    fn build_short(&self, actor: &LocalActor) -> Value {
        let mut b = self.build(actor);
        b["usageTotalUsd"] = json!(0.0);
        b
    }

    fn build_route(&self, actor: &LocalActor, tail: &[&str], call: &Call<'_>) -> ApiResult<Routed> {
        let m = call.method;
        let r = match tail {
            [] => match *m {
                Method::GET => data(StatusCode::OK, self.build(actor)),
                Method::DELETE => {
                    return Err(ApiFailure::bad_request("The build of a local Actor cannot be deleted"));
                }
                _ => return Err(method_not_allowed(m, &["GET", "DELETE"])),
            },
            // Already finished: aborting it changes nothing, as on the platform.
            ["abort"] if *m == Method::POST => data(StatusCode::OK, self.build(actor)),
            ["log"] => {
                only_get(m)?;
                text(format!("{} ACTOR: A local Actor needs no build: its command runs as it is.\n", self.created_at))
            }
            ["openapi.json"] => {
                only_get(m)?;
                crate::api::json_response(
                    StatusCode::OK,
                    &json!({"openapi": "3.0.1", "info": {"title": actor.name, "version": actors::VERSION}, "paths": {}}),
                )
            }
            _ => return Err(not_found("Build endpoint")),
        };
        Ok(Routed::Answer(full(r)))
    }

    fn actor_short(&self, a: &LocalActor) -> Value {
        json!({
            "id": a.id, "createdAt": self.created_at, "modifiedAt": self.created_at,
            "name": a.name, "username": self.api.config().username, "title": a.name,
            "stats": {"totalRuns": self.runs_of(Owner::Actor(&a.id)).len()},
        })
    }

    fn user_object(&self) -> Value {
        let cfg = self.api.config();
        let on = json!({"isEnabled": true, "isTrial": false});
        let features: serde_json::Map<String, Value> = [
            "ACTORS",
            "STORAGE",
            "SCHEDULER",
            "PROXY",
            "PROXY_EXTERNAL_ACCESS",
            "PROXY_RESIDENTIAL",
            "PROXY_SERPS",
            "WEBHOOKS",
            "ACTORS_PUBLIC_ALL",
            "ACTORS_PUBLIC_DEVELOPER",
        ]
        .into_iter()
        .map(|f| (f.to_owned(), on.clone()))
        .collect();
        json!({
            "id": cfg.user_id,
            "username": cfg.username,
            "profile": {"name": "Local user"},
            "email": "local@localhost",
            "plan": {"id": "LOCAL", "description": "The local platform of apify-local", "isEnabled": true,
                     "maxConcurrentActorJobs": self.options.max_concurrent_runs},
            "effectivePlatformFeatures": features,
            "createdAt": self.created_at,
            "isPaying": false,
        })
    }

    fn list_runs(&self, owner: Owner<'_>, call: &Call<'_>) -> ApiResult<Response<Bytes>> {
        let q = &call.query;
        let status: Option<Vec<Status>> = match q.list("status") {
            Some(list) => Some(
                list.iter()
                    .map(|s| {
                        Status::parse(s).ok_or_else(|| {
                            ApiFailure::new(
                                StatusCode::BAD_REQUEST,
                                "invalid-parameter",
                                format!("unknown run status {s:?}"),
                            )
                        })
                    })
                    .collect::<ApiResult<_>>()?,
            ),
            None => None,
        };
        let after = q.str("startedAfter").map(str::to_owned);
        let before = q.str("startedBefore").map(str::to_owned);
        let cmp = |t: &str| crate::format::timestamp::parse_any(t);
        let items: Vec<Value> = self
            .runs_of(owner)
            .iter()
            .map(|h| h.record())
            .filter(|r| status.as_ref().is_none_or(|s| s.contains(&r.status)))
            .filter(|r| after.as_deref().is_none_or(|a| cmp(&r.started_at) > cmp(a)))
            .filter(|r| before.as_deref().is_none_or(|b| cmp(&r.started_at) < cmp(b)))
            .map(|r| r.to_object(self.api.config(), &self.base_url))
            .collect();
        Ok(data(StatusCode::OK, page(items, q)?))
    }

    /// Creates the run's storages and record, and starts its process: a run of `actor`, or of
    /// `task` (its options the defaults of the query's, its input merged with the body).
    async fn start(
        self: &Arc<Self>,
        actor: &LocalActor,
        task: Option<&TaskRecord>,
        call: &Call<'_>,
    ) -> ApiResult<Arc<RunHandle>> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(ApiFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service-unavailable",
                "The emulator is shutting down",
            ));
        }
        if actor.command.is_empty() {
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "actor-build-not-found",
                format!(
                    "Actor {:?} has no version the local platform can run: give a SOURCE_FILES version with a Dockerfile CMD, main.py, src/__main__.py, main.js or a package.json start script",
                    actor.name
                ),
            ));
        }
        let q = &call.query;
        let saved = task.map(|t| t.options.clone()).unwrap_or_default();
        let timeout_secs = q.u64("timeout")?.or(saved.timeout_secs).unwrap_or(actor.timeout_secs);
        let memory_mbytes = q.u64("memory")?.or(saved.memory_mbytes).unwrap_or(actor.memory_mbytes);
        if memory_mbytes < 128 || !memory_mbytes.is_power_of_two() {
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!("memory must be a power of 2 of at least 128 megabytes, got {memory_mbytes}"),
            ));
        }
        if let Some(build) = q.str("build").or(saved.build.as_deref())
            && !matches!(build, "latest" | actors::BUILD_NUMBER | actors::VERSION)
            && build != actor.build_id()
        {
            return Err(not_found(&format!("Build {build:?} of Actor {:?}", actor.name)));
        }
        let max_items = q.u64("maxItems")?.or(saved.max_items);
        let max_total_charge_usd = q.str("maxTotalChargeUsd").map(|v| {
            v.parse::<f64>().map_err(|_| {
                ApiFailure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-parameter",
                    format!("maxTotalChargeUsd must be a number, got {v:?}"),
                )
            })
        });
        let max_total_charge_usd = max_total_charge_usd.transpose()?.or(saved.max_total_charge_usd);
        let ad_hoc = Webhooks::parse_ad_hoc(q)?;
        let (input, content_type) = match task {
            None => (call.body()?, input_content_type(call)),
            Some(t) => {
                let overrides = call.json()?;
                let merged = t.run_input((!overrides.is_null()).then_some(&overrides))?;
                let bytes = merged.map(|v| serde_json::to_vec(&v).unwrap_or_default()).unwrap_or_default();
                (Bytes::from(bytes), "application/json; charset=utf-8".to_owned())
            }
        };
        // The slot is taken before anything is created, so a refused start leaves nothing.
        self.take_slot()?;
        let created = self.create_storages(&input, &content_type).await;
        let (dataset, store, queue) = match created {
            Ok(ids) => ids,
            Err(e) => {
                self.active.fetch_sub(1, Ordering::AcqRel);
                return Err(e);
            }
        };
        let record = RunRecord {
            id: crate::storage::new_id(),
            act_id: actor.id.clone(),
            actor_name: actor.name.clone(),
            actor_task_id: task.map(|t| t.id.clone()),
            started_at: now(),
            finished_at: None,
            status: Status::Ready,
            status_message: None,
            is_status_message_terminal: None,
            origin: "API".to_owned(),
            exit_code: None,
            build_id: actor.build_id(),
            build_number: actors::BUILD_NUMBER.into(),
            timeout_secs,
            memory_mbytes,
            max_items,
            max_total_charge_usd,
            default_dataset_id: dataset,
            default_key_value_store_id: store,
            default_request_queue_id: queue,
            input_body_len: input.len() as u64,
            duration_millis: 0,
            process_group: None,
            charged_event_counts: BTreeMap::new(),
            charge_keys: Default::default(),
            input_key: None,
            reboot_count: 0,
            resurrect_count: 0,
            metamorphs: Vec::new(),
        };
        let run = Arc::new(RunHandle::new(record));
        self.update(&run, |_| {}).await;
        let (tx, rx) = mpsc::unbounded_channel();
        *run.control.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        self.runs.lock().unwrap_or_else(PoisonError::into_inner).insert(run.id.clone(), run.clone());
        tracing::info!(run_id = %run.id, actor = %actor.name, "run started");
        self.webhooks.add_ad_hoc(&run.id, ad_hoc).await;
        self.fire_run(&run, "ACTOR.RUN.CREATED").await;
        self.supervisors.lock().unwrap_or_else(PoisonError::into_inner).spawn(process::supervise(
            self.clone(),
            run.clone(),
            rx,
        ));
        Ok(run)
    }

    /// A declared Actor by its ID.
    pub(crate) fn actor_by_id(&self, id: &str) -> Option<LocalActor> {
        self.all_actors().into_iter().find(|a| a.id == id)
    }

    /// Takes a run slot, or refuses as the platform does.
    fn take_slot(&self) -> ApiResult<()> {
        let limit = self.options.max_concurrent_runs;
        if self.active.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1)).is_err() {
            return Err(ApiFailure::new(
                StatusCode::PAYMENT_REQUIRED,
                "concurrent-runs-limit-exceeded",
                format!(
                    "By launching this job you will exceed the maximum number of concurrent runs ({limit}) of the local platform (--max-concurrent-runs)."
                ),
            ));
        }
        Ok(())
    }

    /// Sends `c` to the run's supervisor; false when the run is not running.
    fn send(&self, run: &RunHandle, c: Control) -> bool {
        run.control.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(|tx| tx.send(c).is_ok())
    }

    /// How long a request that stops a run's process (abort, reboot, metamorph) waits for it.
    fn stop_wait(&self) -> Duration {
        self.options.kill_grace + Duration::from_secs(5)
    }

    /// `resurrect`: a finished run starts again, with its storages and log.
    async fn resurrect(self: &Arc<Self>, run: &Arc<RunHandle>, call: &Call<'_>) -> ApiResult<()> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(ApiFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service-unavailable",
                "The emulator is shutting down",
            ));
        }
        if !run.status().is_terminal() {
            return Err(ApiFailure::bad_request("Only a finished run can be resurrected"));
        }
        let timeout = call.query.u64("timeout")?;
        let memory = call.query.u64("memory")?;
        self.take_slot()?;
        let (tx, rx) = mpsc::unbounded_channel();
        *run.control.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        self.update(run, |r| {
            r.status = Status::Ready;
            r.finished_at = None;
            r.exit_code = None;
            r.status_message = None;
            r.is_status_message_terminal = None;
            r.resurrect_count += 1;
            if let Some(t) = timeout {
                r.timeout_secs = t;
            }
            if let Some(m) = memory {
                r.memory_mbytes = m;
            }
        })
        .await;
        self.fire_run(run, "ACTOR.RUN.RESURRECTED").await;
        self.supervisors.lock().unwrap_or_else(PoisonError::into_inner).spawn(process::supervise(
            self.clone(),
            run.clone(),
            rx,
        ));
        Ok(())
    }

    /// `metamorph`: the run continues as another local Actor, its input stored under
    /// `INPUT-METAMORPH-<n>` in the run's key-value store.
    async fn metamorph(&self, run: &Arc<RunHandle>, call: &Call<'_>) -> ApiResult<()> {
        let target = call.query.str("targetActorId").ok_or_else(|| {
            ApiFailure::new(StatusCode::BAD_REQUEST, "parameter-required", "targetActorId is required")
        })?;
        let target = self.actor(target)?;
        if target.command.is_empty() {
            return Err(ApiFailure::bad_request(format!(
                "Actor {:?} has no version the local platform can run",
                target.name
            )));
        }
        if run.status() != Status::Running {
            return Err(ApiFailure::bad_request("Only a running run can be metamorphed"));
        }
        let record = run.record();
        let input_key = format!("INPUT-METAMORPH-{}", record.metamorphs.len() + 1);
        let input = call.body()?;
        if !input.is_empty() {
            let content_type = input_content_type(call);
            let api = self.api.clone();
            let uri = format!("/v2/key-value-stores/{}/records/{input_key}", record.default_key_value_store_id);
            let stored = tokio::task::spawn_blocking(move || {
                api.handle_internal(
                    Request::put(uri).header(CONTENT_TYPE, content_type).body(input).unwrap_or_default(),
                )
            })
            .await
            .map_err(|e| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal-server-error", e.to_string()))?;
            if !stored.status().is_success() {
                return Err(ApiFailure::bad_request("the metamorph's input could not be stored"));
            }
        }
        let before = record.metamorphs.len();
        if !self.send(run, Control::Metamorph { target, input_key }) {
            return Err(ApiFailure::bad_request("Only a running run can be metamorphed"));
        }
        run.wait_until(self.stop_wait(), |r| r.metamorphs.len() > before || r.status.is_terminal()).await;
        Ok(())
    }

    /// `reboot`: the run's process is stopped and its command started again.
    async fn reboot(&self, run: &Arc<RunHandle>) -> ApiResult<()> {
        let before = run.record().reboot_count;
        if run.status() != Status::Running || !self.send(run, Control::Reboot) {
            return Err(ApiFailure::bad_request("Only a running run can be rebooted"));
        }
        run.wait_until(self.stop_wait(), |r| r.reboot_count > before || r.status.is_terminal()).await;
        Ok(())
    }

    /// A new unnamed dataset, key-value store (with the input) and request queue, made
    /// through the storage API so they are what any client would get.
    async fn create_storages(&self, input: &Bytes, content_type: &str) -> ApiResult<(String, String, String)> {
        let api = self.api.clone();
        let input = input.clone();
        let content_type = content_type.to_owned();
        let input_key = api.storages().config().input_key.clone();
        let made = tokio::task::spawn_blocking(move || {
            let create = |collection: &str| -> ApiResult<String> {
                let r = api
                    .handle_internal(Request::post(format!("/v2/{collection}")).body(Bytes::new()).unwrap_or_default());
                let body: Value = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
                body["data"]["id"].as_str().map(str::to_owned).ok_or_else(|| {
                    ApiFailure::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal-server-error",
                        format!("creating the run's {collection} failed: {body}"),
                    )
                })
            };
            let dataset = create("datasets")?;
            let store = create("key-value-stores")?;
            let queue = create("request-queues")?;
            if !input.is_empty() {
                let req = Request::put(format!("/v2/key-value-stores/{store}/records/{input_key}"))
                    .header(CONTENT_TYPE, content_type)
                    .body(input)
                    .unwrap_or_default();
                let r = api.handle_internal(req);
                if !r.status().is_success() {
                    let body: Value = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
                    return Err(ApiFailure::new(
                        StatusCode::BAD_REQUEST,
                        "invalid-input",
                        format!("the run's input could not be stored: {}", body["error"]["message"]),
                    ));
                }
            }
            Ok((dataset, store, queue))
        })
        .await;
        made.unwrap_or_else(|e| {
            Err(ApiFailure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-server-error",
                format!("creating the run's storages failed: {e}"),
            ))
        })
    }

    async fn run_sync(
        self: &Arc<Self>,
        actor: &LocalActor,
        task: Option<&TaskRecord>,
        kind: &str,
        call: &Call<'_>,
        query: Option<&str>,
        parts: &http::request::Parts,
    ) -> ApiResult<Routed> {
        let run = self.start(actor, task, call).await?;
        run.wait_finished(RUN_SYNC_WAIT).await;
        let r = run.record();
        if !r.status.is_terminal() {
            return Err(ApiFailure::new(
                StatusCode::REQUEST_TIMEOUT,
                "run-timeout-exceeded",
                format!(
                    "Actor run exceeded the timeout of {} seconds for this API endpoint (run ID: {})",
                    RUN_SYNC_WAIT.as_secs(),
                    r.id
                ),
            ));
        }
        if r.status != Status::Succeeded {
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "run-failed",
                format!("Actor run did not succeed (run ID: {}, status: {})", r.id, r.status.as_str()),
            ));
        }
        let uri = if kind == "run-sync" {
            let key = call.query.str("outputRecordKey").unwrap_or("OUTPUT");
            let key = percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
            format!("/v2/key-value-stores/{}/records/{key}", r.default_key_value_store_id)
        } else {
            let q = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("/v2/datasets/{}/items{q}", r.default_dataset_id)
        };
        Ok(Routed::Storage(storage_request(Method::GET, &uri, parts, Bytes::new()), Some(StatusCode::CREATED)))
    }

    async fn run_route(
        self: &Arc<Self>,
        run: Arc<RunHandle>,
        tail: &[&str],
        call: &Call<'_>,
        raw_tail: &str,
        query: Option<&str>,
        parts: &http::request::Parts,
    ) -> ApiResult<Routed> {
        let m = call.method;
        let answer = |r: Response<Bytes>| Ok(Routed::Answer(full(r)));
        match tail {
            [] => match *m {
                Method::GET => {
                    if let Some(secs) = call.query.u64("waitForFinish")? {
                        run.wait_finished(Duration::from_secs(secs).min(self.options.max_wait)).await;
                    }
                    answer(data(StatusCode::OK, self.run_object(&run)))
                }
                Method::PUT => {
                    let body = call.json()?;
                    let message = match &body["statusMessage"] {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => {
                            return Err(ApiFailure::bad_request(format!(
                                "statusMessage must be a string, got {other}"
                            )));
                        }
                    };
                    let terminal = body["isStatusMessageTerminal"].as_bool();
                    if message.is_some() || terminal.is_some() {
                        self.update(&run, |r| {
                            if message.is_some() {
                                r.status_message = message;
                            }
                            if terminal.is_some() {
                                r.is_status_message_terminal = terminal;
                            }
                        })
                        .await;
                    }
                    answer(data(StatusCode::OK, self.run_object(&run)))
                }
                Method::DELETE => {
                    if !run.status().is_terminal() {
                        return Err(ApiFailure::bad_request("A run can be deleted only once it has finished"));
                    }
                    self.runs.lock().unwrap_or_else(PoisonError::into_inner).remove(&run.id);
                    let dir = self.run_dir(&run.id);
                    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
                    answer(crate::api::no_content())
                }
                _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
            },
            ["abort"] => {
                if *m != Method::POST {
                    return Err(method_not_allowed(m, &["POST"]));
                }
                let graceful = call.query.bool("gracefully")?;
                let sent = self.send(&run, Control::Abort { graceful });
                if sent && !graceful {
                    // The platform answers once the run is stopped; a graceful abort is
                    // answered at once, while the Actor winds down.
                    run.wait_finished(self.stop_wait()).await;
                }
                answer(data(StatusCode::OK, self.run_object(&run)))
            }
            ["log"] => {
                only_get(m)?;
                self.log(&run, call).await.map(Routed::Answer)
            }
            [storage @ ("dataset" | "key-value-store" | "request-queue"), ..] => {
                let r = run.record();
                let (collection, id) = match *storage {
                    "dataset" => ("datasets", r.default_dataset_id),
                    "key-value-store" => ("key-value-stores", r.default_key_value_store_id),
                    _ => ("request-queues", r.default_request_queue_id),
                };
                let rest = raw_tail.split_once('/').map_or("", |(_, rest)| rest);
                let mut uri = format!("/v2/{collection}/{id}");
                if !rest.is_empty() {
                    uri.push('/');
                    uri.push_str(rest);
                }
                if let Some(q) = query {
                    uri.push('?');
                    uri.push_str(q);
                }
                Ok(Routed::Storage(storage_request(m.clone(), &uri, parts, call.raw_body()), None))
            }
            ["charge"] => {
                if *m != Method::POST {
                    return Err(method_not_allowed(m, &["POST"]));
                }
                self.charge(&run, call).await.map(|r| Routed::Answer(full(r)))
            }
            [action @ ("metamorph" | "reboot" | "resurrect")] => {
                if *m != Method::POST {
                    return Err(method_not_allowed(m, &["POST"]));
                }
                match *action {
                    "metamorph" => self.metamorph(&run, call).await?,
                    "reboot" => self.reboot(&run).await?,
                    _ => self.resurrect(&run, call).await?,
                }
                answer(data(StatusCode::OK, self.run_object(&run)))
            }
            _ => Err(not_found("Actor run endpoint")),
        }
    }

    async fn charge(&self, run: &RunHandle, call: &Call<'_>) -> ApiResult<Response<Bytes>> {
        let body = call.json()?;
        let event = body["eventName"].as_str().filter(|e| !e.is_empty()).ok_or_else(|| {
            ApiFailure::new(StatusCode::BAD_REQUEST, "invalid-parameter", "eventName must be a non-empty string")
        })?;
        let count = match &body["count"] {
            Value::Null => 1,
            v => v.as_u64().ok_or_else(|| {
                ApiFailure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-parameter",
                    format!("count must be a non-negative integer, got {v}"),
                )
            })?,
        };
        let key = call.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let event = event.to_owned();
        self.update(run, |r| {
            // A retried charge with the same key is counted once.
            if let Some(k) = key
                && !r.charge_keys.insert(k)
            {
                return;
            }
            *r.charged_event_counts.entry(event).or_insert(0) += count;
        })
        .await;
        Ok(crate::api::json_response(StatusCode::CREATED, &json!({})))
    }

    /// The run's log: whole, or followed until the run finishes (`stream=1`).
    async fn log(&self, run: &Arc<RunHandle>, call: &Call<'_>) -> ApiResult<Response<ServerBody>> {
        let raw = call.query.bool("raw")?;
        let stream = call.query.bool("stream")?;
        let download = call.query.bool("download")?;
        let path = self.run_dir(&run.id).join(runs::LOG_FILE);
        let mut response = if stream {
            let (tx, rx) = mpsc::channel(8);
            tokio::spawn(follow(path, run.clone(), raw, tx));
            Response::new(ChannelBody::new(rx).boxed())
        } else {
            let bytes = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
            let bytes = match bytes {
                Ok(Ok(b)) => b,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Ok(Err(e)) => {
                    return Err(ApiFailure::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal-server-error",
                        format!("reading the log failed: {e}"),
                    ));
                }
                Err(e) => {
                    return Err(ApiFailure::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal-server-error",
                        e.to_string(),
                    ));
                }
            };
            let bytes = if raw { bytes } else { AnsiStripper::default().strip(&bytes) };
            Response::new(Full::new(Bytes::from(bytes)).boxed())
        };
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        if download && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}.log\"", run.id)) {
            response.headers_mut().insert(CONTENT_DISPOSITION, v);
        }
        Ok(response)
    }
}

/// Sends the log file as it grows, until the run has finished and everything is sent.
async fn follow(path: PathBuf, run: Arc<RunHandle>, raw: bool, tx: mpsc::Sender<Bytes>) {
    use tokio::io::AsyncReadExt;
    let mut changes = run.changed.subscribe();
    let mut strip = AnsiStripper::default();
    let mut file = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let finished = run.status().is_terminal();
        if file.is_none() {
            file = tokio::fs::File::open(&path).await.ok();
        }
        // Everything written so far; once finished, that is the whole log.
        if let Some(f) = file.as_mut() {
            loop {
                match f.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        let chunk = if raw { buf[..n].to_vec() } else { strip.strip(&buf[..n]) };
                        if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(run_id = %run.id, error = %e, "reading the log to stream it failed");
                        return;
                    }
                }
            }
        }
        if finished {
            return;
        }
        // A change, or a reader that went away.
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            () = tx.closed() => return,
        }
    }
}

/// The content type an input is stored with (the platform's default: JSON).
fn input_content_type(call: &Call<'_>) -> String {
    call.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json; charset=utf-8").to_owned()
}

fn only_get(m: &Method) -> ApiResult<()> {
    if *m == Method::GET { Ok(()) } else { Err(method_not_allowed(m, &["GET"])) }
}

fn text(body: String) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// A request for the storage API with the caller's headers (auth, content type, encoding).
fn storage_request(method: Method, uri: &str, parts: &http::request::Parts, body: Bytes) -> Request<Bytes> {
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri.parse().unwrap_or_default();
    *req.headers_mut() = parts.headers.clone();
    *req.version_mut() = parts.version;
    req
}
