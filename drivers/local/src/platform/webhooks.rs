//! Webhooks of the local platform: stored in `webhooks/<id>.json`, fired on run (and build)
//! events, and delivered by an HTTP POST to a loopback URL, each delivery a dispatch kept
//! in `webhook_dispatches/<id>.json` with its calls and retried with a doubling wait.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::records;
use super::template::{self, DEFAULT_PAYLOAD};
use super::{Platform, not_found, now, page};
use crate::api::{ApiFailure, ApiResult, Call, Query, data, method_not_allowed};
use crate::fsio::Durability;

pub(crate) const WEBHOOKS_DIR: &str = "webhooks";
pub(crate) const DISPATCHES_DIR: &str = "webhook_dispatches";

/// The events a webhook can name.
const EVENT_TYPES: &[&str] = &[
    "ACTOR.BUILD.ABORTED",
    "ACTOR.BUILD.CREATED",
    "ACTOR.BUILD.FAILED",
    "ACTOR.BUILD.SUCCEEDED",
    "ACTOR.BUILD.TIMED_OUT",
    "ACTOR.RUN.ABORTED",
    "ACTOR.RUN.CREATED",
    "ACTOR.RUN.FAILED",
    "ACTOR.RUN.RESURRECTED",
    "ACTOR.RUN.SUCCEEDED",
    "ACTOR.RUN.TIMED_OUT",
    "TEST",
];

/// Longest a receiver may take to answer, as on the platform.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The part of a receiver's answer kept in the dispatch.
const KEPT_RESPONSE_BYTES: usize = 1024;

/// What a webhook is about: a run, a task's runs or an Actor's runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) actor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) actor_task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) actor_run_id: Option<String>,
}

/// What `webhooks/<id>.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhookRecord {
    pub(crate) id: String,
    pub(crate) created_at: String,
    pub(crate) modified_at: String,
    #[serde(default)]
    pub(crate) is_ad_hoc: bool,
    pub(crate) event_types: Vec<String>,
    #[serde(default)]
    pub(crate) condition: Condition,
    pub(crate) request_url: String,
    #[serde(default)]
    pub(crate) payload_template: Option<String>,
    #[serde(default)]
    pub(crate) headers_template: Option<String>,
    #[serde(default)]
    pub(crate) should_interpolate_strings: bool,
    #[serde(default)]
    pub(crate) ignore_ssl_errors: bool,
    #[serde(default)]
    pub(crate) do_not_retry: bool,
    #[serde(default)]
    pub(crate) idempotency_key: Option<String>,
    /// The other fields a client set (`description`, `title`, `isApifyIntegration`, ...).
    #[serde(default, flatten)]
    pub(crate) extra: BTreeMap<String, Value>,
}

/// `WebhookDispatchStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum DispatchStatus {
    Active,
    Succeeded,
    Failed,
}

/// One POST of a dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallRecord {
    pub(crate) started_at: String,
    pub(crate) finished_at: Option<String>,
    pub(crate) error_message: Option<String>,
    pub(crate) response_status: Option<u16>,
    pub(crate) response_body: Option<String>,
}

/// What `webhook_dispatches/<id>.json` holds: the platform's fields and the request it
/// sends (rendered once, so a retry after a restart sends the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DispatchRecord {
    pub(crate) id: String,
    pub(crate) webhook_id: String,
    pub(crate) created_at: String,
    pub(crate) status: DispatchStatus,
    pub(crate) event_type: String,
    pub(crate) event_data: Value,
    #[serde(default)]
    pub(crate) calls: Vec<CallRecord>,
    /// `WebhookDispatchWebhookSummary`.
    pub(crate) webhook: Value,
    pub(crate) request_url: String,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) payload: String,
    #[serde(default)]
    pub(crate) do_not_retry: bool,
    /// When the next call is due (Unix milliseconds), so a restart keeps the wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_call_at_ms: Option<i64>,
}

fn unix_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn invalid(message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, "invalid-parameter", message)
}

/// Only `http://` URLs on a loopback host are delivered to: the local platform must not
/// call out of the machine.
pub(crate) fn check_url(raw: &str) -> ApiResult<url::Url> {
    let url = url::Url::parse(raw).map_err(|e| invalid(format!("requestUrl {raw:?} is not a valid URL: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() != "http" || !loopback {
        return Err(invalid(format!(
            "requestUrl {raw:?} is refused: the local platform delivers webhooks only to http:// URLs on a loopback host (127.0.0.1, [::1], localhost)"
        )));
    }
    Ok(url)
}

fn check_event_types(v: &Value) -> ApiResult<Vec<String>> {
    let Value::Array(items) = v else { return Err(invalid(format!("eventTypes must be an array, got {v}"))) };
    let types: Vec<String> = items
        .iter()
        .map(|t| match t.as_str() {
            Some(s) if EVENT_TYPES.contains(&s) => Ok(s.to_owned()),
            _ => Err(invalid(format!("unknown webhook event type {t}; known: {}", EVENT_TYPES.join(", ")))),
        })
        .collect::<ApiResult<_>>()?;
    if types.is_empty() {
        return Err(invalid("eventTypes must name at least one event"));
    }
    Ok(types)
}

fn check_template(field: &str, v: &Value, interpolate: bool, object: bool) -> ApiResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(t) => {
            let rendered = template::render(t, &template::sample_vars(), interpolate)
                .map_err(|e| invalid(format!("{field} is invalid: {}", e.0)))?;
            if object && !rendered.is_object() {
                return Err(invalid(format!("{field} must render to a JSON object")));
            }
            Ok(Some(t.clone()))
        }
        other => Err(invalid(format!("{field} must be a string, got {other}"))),
    }
}

fn opt_bool(fields: &Map<String, Value>, name: &str) -> ApiResult<Option<bool>> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid(format!("{name} must be true or false, got {other}"))),
    }
}

impl WebhookRecord {
    /// A webhook from the body of `POST /v2/webhooks` (or an ad-hoc one of a start).
    pub(crate) fn create(id: String, body: &Value, now: &str) -> ApiResult<Self> {
        let Value::Object(fields) = body else {
            return Err(ApiFailure::bad_request("the webhook must be a JSON object"));
        };
        let Some(types) = fields.get("eventTypes") else {
            return Err(ApiFailure::new(StatusCode::BAD_REQUEST, "parameter-required", "eventTypes is required"));
        };
        let mut w = Self {
            id,
            created_at: now.to_owned(),
            modified_at: now.to_owned(),
            is_ad_hoc: false,
            event_types: check_event_types(types)?,
            condition: Condition::default(),
            request_url: String::new(),
            payload_template: None,
            headers_template: None,
            should_interpolate_strings: false,
            ignore_ssl_errors: false,
            do_not_retry: false,
            idempotency_key: None,
            extra: BTreeMap::new(),
        };
        w.apply(fields, now)?;
        Ok(w)
    }

    /// `PUT /v2/webhooks/{id}`: the fields given replace the webhook's.
    pub(crate) fn update(&mut self, body: &Value, now: &str) -> ApiResult<()> {
        let Value::Object(fields) = body else {
            return Err(ApiFailure::bad_request("the webhook must be a JSON object"));
        };
        self.apply(fields, now)
    }

    fn apply(&mut self, fields: &Map<String, Value>, now: &str) -> ApiResult<()> {
        // All checked on a copy first: a refused change changes nothing.
        let mut w = self.clone();
        if let Some(v) = opt_bool(fields, "shouldInterpolateStrings")? {
            w.should_interpolate_strings = v;
        }
        for (name, slot) in [
            ("isAdHoc", &mut w.is_ad_hoc),
            ("ignoreSslErrors", &mut w.ignore_ssl_errors),
            ("doNotRetry", &mut w.do_not_retry),
        ] {
            if let Some(v) = opt_bool(fields, name)? {
                *slot = v;
            }
        }
        if let Some(t) = fields.get("eventTypes").filter(|t| !t.is_null()) {
            w.event_types = check_event_types(t)?;
        }
        if let Some(u) = fields.get("requestUrl").filter(|u| !u.is_null()) {
            let Value::String(u) = u else { return Err(invalid(format!("requestUrl must be a string, got {u}"))) };
            check_url(u)?;
            w.request_url = u.clone();
        }
        if let Some(c) = fields.get("condition").filter(|c| !c.is_null()) {
            w.condition =
                serde_json::from_value(c.clone()).map_err(|e| invalid(format!("condition is invalid: {e}")))?;
        }
        if let Some(t) = fields.get("payloadTemplate") {
            w.payload_template = check_template("payloadTemplate", t, w.should_interpolate_strings, false)?;
        }
        if let Some(t) = fields.get("headersTemplate") {
            w.headers_template = check_template("headersTemplate", t, w.should_interpolate_strings, true)?;
        }
        if let Some(k) = fields.get("idempotencyKey") {
            w.idempotency_key = k.as_str().map(str::to_owned);
        }
        const OWN: &[&str] = &[
            "id",
            "userId",
            "createdAt",
            "modifiedAt",
            "isAdHoc",
            "eventTypes",
            "condition",
            "requestUrl",
            "payloadTemplate",
            "headersTemplate",
            "shouldInterpolateStrings",
            "ignoreSslErrors",
            "doNotRetry",
            "idempotencyKey",
            "lastDispatch",
            "stats",
        ];
        records::merge_extra(&mut w.extra, fields, OWN);
        if w.request_url.is_empty() {
            return Err(ApiFailure::new(StatusCode::BAD_REQUEST, "parameter-required", "requestUrl is required"));
        }
        let c = &w.condition;
        if c.actor_id.is_none() && c.actor_task_id.is_none() && c.actor_run_id.is_none() {
            return Err(invalid("condition must name an actorId, actorTaskId or actorRunId"));
        }
        w.modified_at = now.to_owned();
        *self = w;
        Ok(())
    }

    /// Whether this webhook fires for `event_type` of a run (or build) described by `data`
    /// (`actorId`, `actorTaskId`, `actorRunId`).
    fn fires_for(&self, event_type: &str, data: &Value) -> bool {
        if !self.event_types.iter().any(|t| t == event_type) {
            return false;
        }
        let c = &self.condition;
        let is = |field: &str, want: &Option<String>| want.as_deref().is_none_or(|w| data[field].as_str() == Some(w));
        is("actorRunId", &c.actor_run_id) && is("actorTaskId", &c.actor_task_id) && is("actorId", &c.actor_id)
    }

    fn to_object(&self, user_id: &str, stats: (usize, Option<&DispatchRecord>)) -> Value {
        let mut o: Map<String, Value> = self.extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let last = stats
            .1
            .map(|d| json!({"status": d.status, "finishedAt": d.calls.last().and_then(|c| c.finished_at.clone())}));
        let fixed = json!({
            "id": self.id,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "userId": user_id,
            "isAdHoc": self.is_ad_hoc,
            "shouldInterpolateStrings": self.should_interpolate_strings,
            "eventTypes": self.event_types,
            "condition": self.condition,
            "ignoreSslErrors": self.ignore_ssl_errors,
            "doNotRetry": self.do_not_retry,
            "requestUrl": self.request_url,
            "payloadTemplate": self.payload_template.as_deref().unwrap_or(DEFAULT_PAYLOAD),
            "headersTemplate": self.headers_template,
            "idempotencyKey": self.idempotency_key,
            "isApifyIntegration": self.extra.get("isApifyIntegration").cloned().unwrap_or(Value::Bool(false)),
            "isEnabled": true,
            "actionType": "HTTP_REQUEST",
            "lastDispatch": last,
            "stats": {"totalDispatches": stats.0},
        });
        if let Value::Object(f) = fixed {
            o.extend(f);
        }
        Value::Object(o)
    }
}

impl DispatchRecord {
    fn to_object(&self, user_id: &str) -> Value {
        json!({
            "id": self.id,
            "userId": user_id,
            "webhookId": self.webhook_id,
            "createdAt": self.created_at,
            "status": self.status,
            "eventType": self.event_type,
            "eventData": self.event_data,
            "webhook": self.webhook,
            "calls": self.calls,
        })
    }
}

/// How dispatches are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRetries {
    /// The wait before the first retry; it doubles after each (the platform's is a minute).
    pub first_wait: Duration,
    /// Retries after the first call (the platform's: 11, about 32 hours).
    pub max_retries: u32,
}

impl Default for WebhookRetries {
    fn default() -> Self {
        Self { first_wait: Duration::from_secs(60), max_retries: 11 }
    }
}

/// The webhooks and dispatches of a storage folder.
pub(crate) struct Webhooks {
    root: PathBuf,
    durability: Durability,
    user_id: String,
    retries: WebhookRetries,
    /// Held across a webhook's save, so saves land in the order the changes were made.
    hooks: tokio::sync::Mutex<BTreeMap<String, WebhookRecord>>,
    dispatches: Mutex<BTreeMap<String, DispatchRecord>>,
}

fn internal(e: impl std::fmt::Display) -> ApiFailure {
    tracing::error!(error = %e, "saving a webhook failed");
    ApiFailure::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-server-error",
        format!("saving the webhook failed: {e}"),
    )
}

impl Webhooks {
    /// The webhooks and dispatches under `root`; dispatches still being delivered when the
    /// folder was last served go on (call [`Webhooks::resume`] inside the runtime).
    pub(crate) fn open(root: &Path, durability: Durability, user_id: &str, retries: WebhookRetries) -> Arc<Self> {
        let hooks = records::load_dir::<WebhookRecord>(&root.join(WEBHOOKS_DIR), "webhook");
        let dispatches = records::load_dir::<DispatchRecord>(&root.join(DISPATCHES_DIR), "webhook dispatch");
        Arc::new(Self {
            root: root.to_owned(),
            durability,
            user_id: user_id.to_owned(),
            retries,
            hooks: tokio::sync::Mutex::new(hooks.into_iter().map(|w| (w.id.clone(), w)).collect()),
            dispatches: Mutex::new(dispatches.into_iter().map(|d| (d.id.clone(), d)).collect()),
        })
    }

    /// Delivers what was left active.
    pub(crate) fn resume(self: &Arc<Self>) {
        let active: Vec<String> = self
            .lock_dispatches()
            .values()
            .filter(|d| d.status == DispatchStatus::Active)
            .map(|d| d.id.clone())
            .collect();
        for id in active {
            tokio::spawn(self.clone().deliver(id));
        }
    }

    fn lock_dispatches(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, DispatchRecord>> {
        self.dispatches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn save_hook(&self, w: &WebhookRecord) -> ApiResult<()> {
        let (dir, w, d) = (self.root.join(WEBHOOKS_DIR), w.clone(), self.durability);
        tokio::task::spawn_blocking(move || records::save(&dir, &w.id, &w, d))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    async fn save_dispatch(&self, id: &str) {
        let Some(d) = self.lock_dispatches().get(id).cloned() else { return };
        let (dir, dur) = (self.root.join(DISPATCHES_DIR), self.durability);
        let saved = tokio::task::spawn_blocking(move || records::save(&dir, &d.id, &d, dur)).await;
        if let Ok(Err(e)) | Err(e) = saved.map_err(io::Error::other) {
            tracing::error!(dispatch_id = %id, error = %e, "saving a webhook dispatch failed");
        }
    }

    fn object(&self, w: &WebhookRecord) -> Value {
        let dispatches = self.lock_dispatches();
        let mine: Vec<&DispatchRecord> = dispatches.values().filter(|d| d.webhook_id == w.id).collect();
        let last = mine.iter().max_by(|a, b| a.created_at.cmp(&b.created_at)).copied();
        w.to_object(&self.user_id, (mine.len(), last))
    }

    /// `POST /v2/webhooks` (and the ad-hoc webhooks of a start): a webhook with the
    /// idempotency key of an existing one is that one.
    pub(crate) async fn create(&self, body: &Value) -> ApiResult<Value> {
        let w = WebhookRecord::create(crate::storage::new_id(), body, &now())?;
        let mut hooks = self.hooks.lock().await;
        if let Some(key) = &w.idempotency_key
            && let Some(existing) = hooks.values().find(|h| h.idempotency_key.as_ref() == Some(key))
        {
            return Ok(self.object(existing));
        }
        self.save_hook(&w).await?;
        let object = self.object(&w);
        hooks.insert(w.id.clone(), w);
        Ok(object)
    }

    /// Checks the ad-hoc webhooks of a start (`webhooks`: base64 of a JSON array) before
    /// anything of the run exists.
    pub(crate) fn parse_ad_hoc(q: &Query) -> ApiResult<Vec<Value>> {
        let Some(raw) = q.str("webhooks") else { return Ok(Vec::new()) };
        let engine = base64::engine::general_purpose::STANDARD;
        let bytes = engine
            .decode(raw.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(raw.trim()))
            .map_err(|e| invalid(format!("webhooks must be base64 of a JSON array: {e}")))?;
        let list: Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("webhooks must be base64 of a JSON array: {e}")))?;
        let Value::Array(items) = list else { return Err(invalid("webhooks must be base64 of a JSON array")) };
        let items: Vec<Value> = items
            .into_iter()
            .map(|mut item| {
                if let Value::Object(m) = &mut item {
                    m.insert("isAdHoc".into(), Value::Bool(true));
                    m.insert("condition".into(), json!({"actorRunId": "check"}));
                }
                WebhookRecord::create(String::new(), &item, "").map(|_| item)
            })
            .collect::<ApiResult<_>>()?;
        Ok(items)
    }

    /// Stores the ad-hoc webhooks of run `run_id` (already checked).
    pub(crate) async fn add_ad_hoc(&self, run_id: &str, items: Vec<Value>) {
        for mut item in items {
            if let Value::Object(m) = &mut item {
                m.insert("condition".into(), json!({"actorRunId": run_id}));
            }
            if let Err(e) = self.create(&item).await {
                tracing::error!(run_id, error = %e.message, "storing an ad-hoc webhook failed");
            }
        }
    }

    /// Fires `event_type`: a dispatch for each webhook it concerns, delivered in the
    /// background.
    pub(crate) async fn fire(self: &Arc<Self>, event_type: &str, event_data: Value, resource: Value) {
        let hooks: Vec<WebhookRecord> =
            self.hooks.lock().await.values().filter(|w| w.fires_for(event_type, &event_data)).cloned().collect();
        for w in hooks {
            self.dispatch(&w, event_type, event_data.clone(), resource.clone()).await;
        }
    }

    /// A new dispatch of `w`, saved and then delivered in the background.
    async fn dispatch(
        self: &Arc<Self>,
        w: &WebhookRecord,
        event_type: &str,
        event_data: Value,
        resource: Value,
    ) -> Value {
        let created_at = now();
        let vars = json!({
            "userId": self.user_id,
            "createdAt": created_at,
            "eventType": event_type,
            "eventData": event_data,
            "resource": resource,
            "globals": {"dateISO": created_at, "dateUnix": time::OffsetDateTime::now_utc().unix_timestamp()},
        });
        let interpolate = w.should_interpolate_strings;
        // Checked when the webhook was stored; a failure here is one of the data (a
        // variable inside a string that breaks it) and is the dispatch's first call.
        let payload = template::render(w.payload_template.as_deref().unwrap_or(DEFAULT_PAYLOAD), &vars, interpolate);
        let headers = match &w.headers_template {
            None => Ok(BTreeMap::new()),
            Some(t) => template::render(t, &vars, interpolate).map(|v| {
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect()
            }),
        };
        let mut d = DispatchRecord {
            id: crate::storage::new_id(),
            webhook_id: w.id.clone(),
            created_at: created_at.clone(),
            status: DispatchStatus::Active,
            event_type: event_type.to_owned(),
            event_data,
            calls: Vec::new(),
            webhook: json!({"actionType": "HTTP_REQUEST", "requestUrl": w.request_url, "isAdHoc": w.is_ad_hoc, "condition": w.condition}),
            request_url: w.request_url.clone(),
            headers: headers.clone().unwrap_or_default(),
            payload: payload.as_ref().map(Value::to_string).unwrap_or_default(),
            do_not_retry: w.do_not_retry,
            next_call_at_ms: None,
        };
        if let Err(e) = payload.and(headers) {
            d.status = DispatchStatus::Failed;
            d.calls.push(CallRecord {
                started_at: created_at.clone(),
                finished_at: Some(created_at),
                error_message: Some(e.0),
                response_status: None,
                response_body: None,
            });
        }
        let id = d.id.clone();
        let active = d.status == DispatchStatus::Active;
        let object = d.to_object(&self.user_id);
        self.lock_dispatches().insert(id.clone(), d);
        self.save_dispatch(&id).await;
        if active {
            tokio::spawn(self.clone().deliver(id));
        }
        object
    }

    /// Calls the receiver until it answers 2xx, retrying with a doubling wait.
    async fn deliver(self: Arc<Self>, id: String) {
        loop {
            let Some(d) = self.lock_dispatches().get(&id).cloned() else { return };
            if d.status != DispatchStatus::Active {
                return;
            }
            if let Some(due) = d.next_call_at_ms {
                let left = due.saturating_sub(unix_ms());
                if left > 0 {
                    tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
                }
            }
            let started_at = now();
            let outcome = tokio::time::timeout(CALL_TIMEOUT, post(&d))
                .await
                .unwrap_or_else(|_| Err(format!("the receiver did not answer within {} s", CALL_TIMEOUT.as_secs())));
            let (status, body, error) = match outcome {
                Ok((s, b)) if (200..300).contains(&s) => (Some(s), Some(b), None),
                Ok((s, b)) => (Some(s), Some(b), Some(format!("the receiver answered {s}"))),
                Err(e) => (None, None, Some(e)),
            };
            let failed = error.is_some();
            let retries_done = d.calls.len() as u32;
            let give_up = failed && (d.do_not_retry || retries_done >= self.retries.max_retries);
            let wait = self.retries.first_wait.saturating_mul(2u32.saturating_pow(retries_done));
            if let Some(d) = self.lock_dispatches().get_mut(&id) {
                d.next_call_at_ms = (failed && !give_up)
                    .then(|| unix_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)));
                d.calls.push(CallRecord {
                    started_at,
                    finished_at: Some(now()),
                    error_message: error,
                    response_status: status,
                    response_body: body,
                });
                if !failed {
                    d.status = DispatchStatus::Succeeded;
                } else if give_up {
                    d.status = DispatchStatus::Failed;
                }
            }
            self.save_dispatch(&id).await;
            tracing::info!(dispatch_id = %id, webhook_id = %d.webhook_id, event_type = %d.event_type, status_code = ?status, "webhook call");
            if !failed || give_up {
                return;
            }
        }
    }

    // ---- routes ----

    pub(crate) async fn list(&self, q: &Query, keep: impl Fn(&WebhookRecord) -> bool) -> ApiResult<Value> {
        let hooks = self.hooks.lock().await;
        let mut items: Vec<&WebhookRecord> = hooks.values().filter(|w| keep(w)).collect();
        items.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        page(items.into_iter().map(|w| self.object(w)).collect(), q)
    }

    pub(crate) async fn get(&self, id: &str) -> ApiResult<Value> {
        let hooks = self.hooks.lock().await;
        hooks.get(id).map(|w| self.object(w)).ok_or_else(|| not_found(&format!("Webhook {id:?}")))
    }

    pub(crate) async fn update(&self, id: &str, body: &Value) -> ApiResult<Value> {
        let mut hooks = self.hooks.lock().await;
        let mut w = hooks.get(id).cloned().ok_or_else(|| not_found(&format!("Webhook {id:?}")))?;
        w.update(body, &now())?;
        self.save_hook(&w).await?;
        let object = self.object(&w);
        hooks.insert(w.id.clone(), w);
        Ok(object)
    }

    pub(crate) async fn delete(&self, id: &str) -> ApiResult<()> {
        let mut hooks = self.hooks.lock().await;
        if !hooks.contains_key(id) {
            return Err(not_found(&format!("Webhook {id:?}")));
        }
        let (dir, file) = (self.root.join(WEBHOOKS_DIR), id.to_owned());
        let removed = tokio::task::spawn_blocking(move || records::remove(&dir, &file));
        removed.await.map_err(internal)?.map_err(internal)?;
        hooks.remove(id);
        Ok(())
    }

    /// `POST /v2/webhooks/{id}/test`: a `TEST` dispatch, answered at once (`ACTIVE`).
    pub(crate) async fn test(self: &Arc<Self>, id: &str) -> ApiResult<Value> {
        let w = self.hooks.lock().await.get(id).cloned().ok_or_else(|| not_found(&format!("Webhook {id:?}")))?;
        // A test is of no run: no event data, an empty resource.
        Ok(self.dispatch(&w, "TEST", Value::Null, json!({})).await)
    }

    pub(crate) fn dispatches(&self, q: &Query, webhook_id: Option<&str>) -> ApiResult<Value> {
        let dispatches = self.lock_dispatches();
        let mut items: Vec<&DispatchRecord> =
            dispatches.values().filter(|d| webhook_id.is_none_or(|w| d.webhook_id == w)).collect();
        items.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        page(items.into_iter().map(|d| d.to_object(&self.user_id)).collect(), q)
    }

    pub(crate) fn dispatch_object(&self, id: &str) -> ApiResult<Value> {
        self.lock_dispatches()
            .get(id)
            .map(|d| d.to_object(&self.user_id))
            .ok_or_else(|| not_found(&format!("Webhook dispatch {id:?}")))
    }
}

/// One POST of the dispatch's payload: the receiver's status and the start of its body.
async fn post(d: &DispatchRecord) -> Result<(u16, String), String> {
    let url = check_url(&d.request_url).map_err(|e| e.message)?;
    let host = url.host_str().unwrap_or("127.0.0.1").trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    // A name that resolves off the machine is refused like any other non-loopback URL.
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("resolving {host}: {e}"))?
        .filter(|a| a.ip().is_loopback())
        .collect();
    let mut last = format!("{host} has no loopback address");
    let mut stream = None;
    for a in addrs {
        match tokio::net::TcpStream::connect(a).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("connecting to {a}: {e}"),
        }
    }
    let stream = stream.ok_or(last)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let req = Request::builder()
        .method(Method::POST)
        .uri(target)
        .header(http::header::HOST, url.host_str().unwrap_or("127.0.0.1").to_owned() + &format!(":{port}"))
        .header(http::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(http::header::USER_AGENT, "apify-local webhooks")
        .header("X-Apify-Webhook", d.webhook_id.as_str())
        .header("X-Apify-Webhook-Dispatch-Id", d.id.as_str())
        .header("X-Apify-Request-Origin", "WEBHOOK");
    let mut req = req.body(Full::new(Bytes::from(d.payload.clone()))).map_err(|e| format!("the request: {e}"))?;
    // The template's headers replace the defaults of the same name.
    for (k, v) in &d.headers {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| format!("the headers template names an invalid header {k:?}: {e}"))?;
        let value = http::HeaderValue::from_str(v)
            .map_err(|e| format!("the headers template gives {k:?} an invalid value: {e}"))?;
        req.headers_mut().insert(name, value);
    }
    let resp = sender.send_request(req).await.map_err(|e| format!("sending: {e}"))?;
    let status = resp.status().as_u16();
    // Only the start of the answer is kept, and only that much is read.
    let mut body = resp.into_body();
    let mut kept = Vec::new();
    while kept.len() < KEPT_RESPONSE_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    kept.extend_from_slice(&data[..data.len().min(KEPT_RESPONSE_BYTES - kept.len())]);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    conn.abort();
    Ok((status, String::from_utf8_lossy(&kept).into_owned()))
}

impl Platform {
    /// `/v2/webhooks/...` and `/v2/webhook-dispatches/...`.
    pub(super) async fn webhook_route(self: &Arc<Self>, segs: &[&str], call: &Call<'_>) -> ApiResult<Response<Bytes>> {
        let m = call.method;
        let hooks = &self.webhooks;
        let q = &call.query;
        match segs {
            ["webhooks"] => match *m {
                Method::GET => Ok(data(StatusCode::OK, hooks.list(q, |_| true).await?)),
                Method::POST => {
                    let body = self.resolve_condition(call.json()?).await?;
                    Ok(data(StatusCode::CREATED, hooks.create(&body).await?))
                }
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            ["webhooks", id] => match *m {
                Method::GET => Ok(data(StatusCode::OK, hooks.get(id).await?)),
                Method::PUT => {
                    let body = self.resolve_condition(call.json()?).await?;
                    Ok(data(StatusCode::OK, hooks.update(id, &body).await?))
                }
                Method::DELETE => hooks.delete(id).await.map(|()| crate::api::no_content()),
                _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
            },
            ["webhooks", id, "test"] if *m == Method::POST => Ok(data(StatusCode::CREATED, hooks.test(id).await?)),
            ["webhooks", id, "dispatches"] if *m == Method::GET => {
                hooks.get(id).await?;
                Ok(data(StatusCode::OK, hooks.dispatches(q, Some(id))?))
            }
            ["webhook-dispatches"] if *m == Method::GET => Ok(data(StatusCode::OK, hooks.dispatches(q, None)?)),
            ["webhook-dispatches", id] if *m == Method::GET => Ok(data(StatusCode::OK, hooks.dispatch_object(id)?)),
            ["webhooks", _, "test"] => Err(method_not_allowed(m, &["POST"])),
            ["webhooks", _, "dispatches"] | ["webhook-dispatches", ..] => Err(method_not_allowed(m, &["GET"])),
            _ => Err(not_found("Webhook endpoint")),
        }
    }

    /// A condition may name its Actor or task by name (`username~name`); it is stored with
    /// their IDs, and what it names must exist.
    async fn resolve_condition(&self, mut body: Value) -> ApiResult<Value> {
        let Some(Value::Object(c)) = body.get_mut("condition") else { return Ok(body) };
        if let Some(Value::String(a)) = c.get("actorId") {
            let id = self.actor(a)?.id.clone();
            c.insert("actorId".into(), Value::String(id));
        }
        if let Some(Value::String(t)) = c.get("actorTaskId") {
            let id = self.task(t).await?.id;
            c.insert("actorTaskId".into(), Value::String(id));
        }
        if let Some(Value::String(r)) = c.get("actorRunId") {
            self.run(r)?;
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(body: Value) -> ApiResult<WebhookRecord> {
        WebhookRecord::create("w1".into(), &body, "2026-12-07T10:00:00.000Z")
    }

    #[test]
    fn only_loopback_http_urls_are_accepted() {
        for ok in ["http://127.0.0.1:9/x?y=1", "http://localhost:80/", "http://[::1]:5/", "http://127.8.9.1/"] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in ["https://127.0.0.1/", "http://example.com/", "http://10.0.0.1/", "ftp://localhost/", "not a url"] {
            let e = check_url(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.message.contains("requestUrl"), "{}", e.message);
        }
    }

    #[test]
    fn a_webhook_is_checked_whole_and_a_bad_update_changes_nothing() {
        let good = json!({"eventTypes": ["ACTOR.RUN.SUCCEEDED"], "requestUrl": "http://127.0.0.1:1/", "condition": {"actorId": "a"}, "description": "d"});
        let mut w = hook(good.clone()).unwrap();
        assert_eq!(w.extra["description"], "d");
        for bad in [
            json!({"eventTypes": ["ACTOR.RUN.DONE"]}),
            json!({"eventTypes": []}),
            json!({"requestUrl": "http://example.com/"}),
            json!({"payloadTemplate": "{\"a\": {{resource}"}),
            json!({"headersTemplate": "[1]"}),
            json!({"condition": {"actorId": 5}}),
            json!({"doNotRetry": "yes"}),
        ] {
            let before = w.clone();
            assert!(w.update(&bad, "2026-12-07T10:00:01.000Z").is_err(), "{bad}");
            assert_eq!(w, before, "{bad}");
        }
        assert!(hook(json!({"eventTypes": ["TEST"], "requestUrl": "http://127.0.0.1:1/"})).is_err(), "no condition");
        assert!(hook(json!({"requestUrl": "http://127.0.0.1:1/", "condition": {"actorId": "a"}})).is_err());
    }

    #[test]
    fn a_webhook_fires_for_its_events_and_condition() {
        let w = hook(json!({"eventTypes": ["ACTOR.RUN.SUCCEEDED"], "requestUrl": "http://127.0.0.1:1/", "condition": {"actorTaskId": "t"}})).unwrap();
        assert!(w.fires_for("ACTOR.RUN.SUCCEEDED", &json!({"actorId": "a", "actorTaskId": "t", "actorRunId": "r"})));
        assert!(!w.fires_for("ACTOR.RUN.FAILED", &json!({"actorId": "a", "actorTaskId": "t"})));
        assert!(!w.fires_for("ACTOR.RUN.SUCCEEDED", &json!({"actorId": "a", "actorTaskId": null})));
    }

    #[test]
    fn ad_hoc_webhooks_are_base64_json_and_checked_before_the_run() {
        let list = json!([{"eventTypes": ["ACTOR.RUN.SUCCEEDED"], "requestUrl": "http://127.0.0.1:1/"}]);
        let raw = base64::engine::general_purpose::STANDARD.encode(list.to_string());
        let q = Query::parse(Some(&format!(
            "webhooks={}",
            percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC)
        )));
        assert_eq!(Webhooks::parse_ad_hoc(&q).unwrap().len(), 1);
        for bad in [
            "bm90IGpzb24",
            "e30",
            &base64::engine::general_purpose::STANDARD
                .encode(r#"[{"eventTypes": ["TEST"], "requestUrl": "http://1.2.3.4/"}]"#),
        ] {
            let q = Query::parse(Some(&format!(
                "webhooks={}",
                percent_encoding::utf8_percent_encode(bad, percent_encoding::NON_ALPHANUMERIC)
            )));
            assert!(Webhooks::parse_ad_hoc(&q).is_err(), "{bad}");
        }
    }
}
