//! Proof that the client covers the whole Apify API v2 (api-operations.md): every one of
//! the 231 operations of the OpenAPI document has a typed method (the 133 core ones) or is
//! reached by an alias rule through a chained client (the other 98), every registry entry
//! is in the document with the right method and path, and every query parameter the
//! document declares is sent by some typed call.
//!
//! Each case is a request golden built through the public client tree (method, full URI,
//! headers, body, content type, tier, `operationId`), then sent to a virtual-clock mock that answers
//! with the operation's documented example, which must decode. The table of all 231
//! operations with their Rust method (`docs/operations.md`) is generated here and must be
//! fresh (`APIFY_UPDATE_DOCS=1 cargo test -p apify-tests --test api_coverage` rewrites it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use apify_core::client::ApifyClient;
use apify_core::client::mock::{MockClient, MockResponse};
use apify_core::config::{Config, Timeout, TimeoutTier};
use apify_core::models::Request;
use apify_core::ops::plan::IntoPlan;
use apify_core::ops::registry::{self, ALIASES, OpSpec};
use apify_core::ops::request_queue::RequestRef;
use apify_core::request::ApiRequest;
use http::Method;
use serde_json::{Value, json};

const DOC: &str = include_str!("../../core/tests/fixtures/apify-openapi.json");

type C = ApifyClient<MockClient>;

// ---------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct DocOp {
    id: String,
    method: Method,
    path: String,
    query: Vec<String>,
    example: Option<(u16, Value)>,
    deprecated: bool,
}

fn doc_ops() -> Vec<DocOp> {
    let doc: Value = serde_json::from_str(DOC).expect("the fixture is JSON");
    let resolve = |p: &Value| -> Value {
        match p.get("$ref").and_then(Value::as_str) {
            Some(r) => doc.pointer(r.trim_start_matches('#')).cloned().unwrap_or(Value::Null),
            None => p.clone(),
        }
    };
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Ok(m) = method.to_uppercase().parse::<Method>() else { continue };
            if !["GET", "POST", "PUT", "DELETE", "HEAD"].contains(&m.as_str()) {
                continue;
            }
            let mut params: Vec<Value> = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            params.extend(op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default());
            let query = params
                .iter()
                .map(resolve)
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            let example = op["responses"].as_object().and_then(|rs| {
                rs.iter().filter(|(code, _)| code.starts_with('2')).find_map(|(code, r)| {
                    let media = r.pointer("/content/application~1json")?;
                    let ex = media
                        .get("example")
                        .cloned()
                        .or_else(|| media.get("examples")?.as_object()?.values().next()?.get("value").cloned())?;
                    Some((code.parse().ok()?, ex))
                })
            });
            out.push(DocOp {
                id: op["operationId"].as_str().expect("operationId").to_owned(),
                method: m,
                path: path.clone(),
                query,
                example,
                deprecated: op.get("deprecated") == Some(&Value::Bool(true)),
            });
        }
    }
    out
}

/// Whether `path` (a request path) fits the OpenAPI `template`.
fn fits(template: &str, path: &str) -> bool {
    let t: Vec<_> = template.split('/').collect();
    let p: Vec<_> = path.split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

/// The core route an alias route (a template or a request path) stands for, by the alias
/// rules: the longest rule whose prefix matches, segment by segment.
fn resolve_alias(path: &str) -> Option<(String, &'static registry::AliasRule)> {
    let segs: Vec<_> = path.split('/').collect();
    ALIASES
        .iter()
        .filter(|r| {
            let pre: Vec<_> = r.prefix.split('/').collect();
            pre.len() <= segs.len()
                && pre.iter().zip(&segs).all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
        })
        .max_by_key(|r| r.prefix.split('/').count())
        .map(|r| {
            let n = r.prefix.split('/').count();
            let rest: Vec<_> = segs[n..].to_vec();
            let core = if rest.is_empty() { r.target.to_owned() } else { format!("{}/{}", r.target, rest.join("/")) };
            (core, r)
        })
}

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

struct Case {
    id: &'static str,
    req: ApiRequest,
    want: String,
    tier: Timeout,
    body: Option<String>,
    sent: Option<Result<(), String>>,
}

fn client(reply: MockResponse) -> C {
    let config = Config::new().with_token("t");
    ApifyClient::with_custom_http_client(config, MockClient::new(move |_| reply.clone()))
}

/// The reply for operation `id`: its documented example, else an empty success.
fn reply_for(ops: &[DocOp], id: &str) -> (MockResponse, bool) {
    match ops.iter().find(|o| o.id == id).and_then(|o| o.example.clone()) {
        Some((status, body)) => (MockResponse::json(status, body), true),
        None => (MockResponse::json(200, json!({})), false),
    }
}

struct Cases<'a> {
    ops: &'a [DocOp],
    all: Vec<Case>,
}

impl Cases<'_> {
    /// A typed call: its first request must be `want` (`METHOD /path?query`) in `tier`,
    /// with `body`; sent to a mock answering with the documented example, it must succeed
    /// when there is one.
    fn add<O>(
        &mut self,
        id: &'static str,
        make: impl Fn(&C) -> apify_core::client::CallBuilder<MockClient, O>,
        want: &str,
        tier: impl Into<Timeout>,
        body: Option<&str>,
    ) where
        O: IntoPlan + Clone,
    {
        let (reply, documented) = reply_for(self.ops, id);
        let c = client(reply);
        let req = make(&c).request().unwrap_or_else(|e| panic!("{id}: {e}"));
        let sent = documented.then(|| make(&c).send().map(drop).map_err(|e| e.to_string()));
        self.all.push(Case { id, req, want: want.to_owned(), tier: tier.into(), body: body.map(str::to_owned), sent });
    }

    /// A streamed call: only its request.
    fn add_stream<S: apify_core::client::StreamOperation>(
        &mut self,
        id: &'static str,
        call: apify_core::client::StreamCall<MockClient, S>,
        want: &str,
        tier: impl Into<Timeout>,
        body: Option<&str>,
    ) {
        let req = call.request().unwrap_or_else(|e| panic!("{id}: {e}"));
        self.add_request(id, req, want, tier, body);
    }

    /// A request built some other way (`default_build`).
    fn add_request(
        &mut self,
        id: &'static str,
        req: ApiRequest,
        want: &str,
        tier: impl Into<Timeout>,
        body: Option<&str>,
    ) {
        let body = body.map(str::to_owned);
        self.all.push(Case { id, req, want: want.to_owned(), tier: tier.into(), body, sent: None });
    }
}

use TimeoutTier::{Long, Medium, None as NoTimeout, Short};

fn ts() -> apify_core::models::Timestamp {
    apify_core::models::timestamp::parse("2024-01-02T03:04:05.000Z").unwrap()
}

fn hook() -> Value {
    json!({"eventTypes": ["ACTOR.RUN.SUCCEEDED"], "requestUrl": "http://127.0.0.1/h"})
}

/// Every run option of a start or a synchronous run (the Python client's names).
macro_rules! run_opts {
    ($b:expr) => {
        $b.build("b")
            .memory_mbytes(1u64)
            .run_timeout(Duration::from_secs(1))
            .max_items(1u64)
            .max_total_charge_usd(1.0)
            .restart_on_error(true)
            .webhooks(&[hook()])
    };
}

/// The query `run_opts!` makes.
fn run_q(hook_b64: &str) -> String {
    let b64 = hook_b64.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
    format!("build=b&memory=1&timeout=1&maxItems=1&maxTotalChargeUsd=1&restartOnError=true&webhooks={b64}")
}

/// Every item option of a download.
macro_rules! items_opts {
    ($d:expr) => {
        $d.format("csv")
            .clean(true)
            .offset(1u64)
            .limit(2u64)
            .fields(["a"])
            .output_fields(["a"])
            .omit(["b"])
            .unwind(["c"])
            .flatten(["d"])
            .desc(true)
            .attachment(true)
            .delimiter(";")
            .bom(true)
            .xml_root("r")
            .xml_row("w")
            .skip_header_row(true)
            .skip_hidden(true)
            .skip_empty(true)
            .simplified(true)
            .view("v")
            .skip_failed_pages(true)
            .feed_title("t")
            .feed_description("d")
    };
}

/// The query `items_opts!` makes (after `format`, the filters, then the format options).
const ITEMS_Q: &str = "format=csv&offset=1&limit=2&desc=true&clean=true&fields=a&outputFields=a&omit=b&unwind=c&skipEmpty=true&skipHidden=true&flatten=d&view=v&simplified=true&skipFailedPages=true&bom=true&delimiter=%3B&skipHeaderRow=true&xmlRoot=r&xmlRow=w&attachment=true&feedTitle=t&feedDescription=d";

#[allow(clippy::too_many_lines)]
fn cases(ops: &[DocOp]) -> Vec<Case> {
    let mut k = Cases { ops, all: Vec::new() };
    let hook = json!({"eventTypes": ["ACTOR.RUN.SUCCEEDED"], "requestUrl": "http://127.0.0.1/h"});
    // Base64 of the compact JSON array of `hook`.
    let hook_b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(std::slice::from_ref(&hook)).unwrap())
    };

    // Actors
    k.add(
        "actors_get",
        |c| c.actors().list().my(true).sort_by("stats.lastRunStartedAt").offset(5u64).limit(10u64).desc(true),
        "GET /v2/actors?my=true&sortBy=stats.lastRunStartedAt&offset=5&limit=10&desc=true",
        Medium,
        None,
    );
    k.add(
        "actors_post",
        |c| c.actors().create("my-actor").title("T").default_run_memory_mbytes(256u64).default_run_timeout(Duration::from_secs(60)).is_public(false),
        "POST /v2/actors",
        Medium,
        Some(r#"{"name":"my-actor","title":"T","defaultRunOptions":{"memoryMbytes":256,"timeoutSecs":60},"isPublic":false}"#),
    );
    k.add("actor_get", |c| c.actor("john/a").get(), "GET /v2/actors/john~a", Short, None);
    k.add(
        "actor_put",
        |c| c.actor("john/a").update().description("D").actor_standby_is_enabled(true).categories(["AI"]),
        "PUT /v2/actors/john~a",
        Short,
        Some(r#"{"description":"D","actorStandby":{"isEnabled":true},"categories":["AI"]}"#),
    );
    k.add("actor_delete", |c| c.actor("john/a").delete(), "DELETE /v2/actors/john~a", Short, None);
    k.add(
        "actor_validateInput_post",
        |c| c.actor("john/a").validate_input().input(json!({"q": 1})).build("beta"),
        "POST /v2/actors/john~a/validate-input?build=beta",
        Short,
        Some(r#"{"q":1}"#),
    );
    // Versions and env vars
    k.add("actor_versions_get", |c| c.actor("a").versions().list(), "GET /v2/actors/a/versions", Short, None);
    k.add(
        "actor_versions_post",
        |c| c.actor("a").versions().create("0.1", "SOURCE_FILES".into()).build_tag("latest"),
        "POST /v2/actors/a/versions",
        Short,
        Some(r#"{"versionNumber":"0.1","sourceType":"SOURCE_FILES","buildTag":"latest"}"#),
    );
    k.add("actor_version_get", |c| c.actor("a").version("0.1").get(), "GET /v2/actors/a/versions/0.1", Short, None);
    k.add(
        "actor_version_put",
        |c| c.actor("a").version("0.1").update().git_repo_url("https://g"),
        "PUT /v2/actors/a/versions/0.1",
        Short,
        Some(r#"{"gitRepoUrl":"https://g"}"#),
    );
    k.add(
        "actor_version_post",
        |c| c.actor("a").version("0.1").update_by_post().apply_env_vars_to_build(true),
        "POST /v2/actors/a/versions/0.1",
        Short,
        Some(r#"{"applyEnvVarsToBuild":true}"#),
    );
    k.add(
        "actor_version_delete",
        |c| c.actor("a").version("0.1").delete(),
        "DELETE /v2/actors/a/versions/0.1",
        Short,
        None,
    );
    k.add(
        "actor_version_envVars_get",
        |c| c.actor("a").version("0.1").env_vars().list(),
        "GET /v2/actors/a/versions/0.1/env-vars",
        Short,
        None,
    );
    k.add(
        "actor_version_envVars_post",
        |c| c.actor("a").version("0.1").env_vars().create("K", "v").is_secret(true),
        "POST /v2/actors/a/versions/0.1/env-vars",
        Short,
        Some(r#"{"name":"K","value":"v","isSecret":true}"#),
    );
    k.add(
        "actor_version_envVar_get",
        |c| c.actor("a").version("0.1").env_var("K").get(),
        "GET /v2/actors/a/versions/0.1/env-vars/K",
        Short,
        None,
    );
    k.add(
        "actor_version_envVar_put",
        |c| c.actor("a").version("0.1").env_var("K").update("K", "w"),
        "PUT /v2/actors/a/versions/0.1/env-vars/K",
        Short,
        Some(r#"{"name":"K","value":"w"}"#),
    );
    k.add(
        "actor_version_envVar_post",
        |c| c.actor("a").version("0.1").env_var("K").update_by_post("K", "w"),
        "POST /v2/actors/a/versions/0.1/env-vars/K",
        Short,
        Some(r#"{"name":"K","value":"w"}"#),
    );
    k.add(
        "actor_version_envVar_delete",
        |c| c.actor("a").version("0.1").env_var("K").delete(),
        "DELETE /v2/actors/a/versions/0.1/env-vars/K",
        Short,
        None,
    );
    // Builds
    let c = client(MockResponse::json(200, json!({})));
    k.add_request(
        "actor_build_default_get",
        c.actor("a").default_build().wait_for_finish(30).request().unwrap(),
        "GET /v2/actors/a/builds/default?waitForFinish=30",
        Short,
        None,
    );
    k.add(
        "actors_builds_get",
        |c| c.actor("a").builds().list().limit(2u64).offset(1u64).desc(true),
        "GET /v2/actors/a/builds?limit=2&offset=1&desc=true",
        Medium,
        None,
    );
    k.add(
        "actors_builds_post",
        |c| c.actor("a").build("0.1").beta_packages(true).tag("beta").use_cache(true).wait_for_finish(10u64),
        "POST /v2/actors/a/builds?version=0.1&betaPackages=true&tag=beta&useCache=true&waitForFinish=10",
        Medium,
        None,
    );
    k.add(
        "actor_openapi_json_get",
        |c| c.actor("a").build_by_id("b1").get_open_api_definition(),
        "GET /v2/actors/a/builds/b1/openapi.json",
        Medium,
        None,
    );
    k.add(
        "actors_build_get",
        |c| c.actor("a").build_by_id("b1").get().wait_for_finish(5u64),
        "GET /v2/actors/a/builds/b1?waitForFinish=5",
        Short,
        None,
    );
    k.add(
        "actors_build_abort_post",
        |c| c.actor("a").build_by_id("b1").abort(),
        "POST /v2/actors/a/builds/b1/abort",
        Short,
        None,
    );
    k.add(
        "actorBuilds_get",
        |c| c.builds().list().desc(true).offset(1u64).limit(2u64),
        "GET /v2/actor-builds?desc=true&offset=1&limit=2",
        Medium,
        None,
    );
    k.add(
        "actorBuild_get",
        |c| c.build("b1").get().wait_for_finish(60u64),
        "GET /v2/actor-builds/b1?waitForFinish=60",
        Short,
        None,
    );
    k.add("actorBuild_delete", |c| c.build("b1").delete(), "DELETE /v2/actor-builds/b1", Short, None);
    k.add("actorBuild_abort_post", |c| c.build("b1").abort(), "POST /v2/actor-builds/b1/abort", Short, None);
    k.add(
        "actorBuild_log_get",
        |c| c.build("b1").log().get().download(true),
        "GET /v2/actor-builds/b1/log?download=true",
        Long,
        None,
    );
    k.add_stream(
        "actorBuild_log_get",
        client(MockResponse::text(200, "")).build("b1").log().stream(),
        "GET /v2/actor-builds/b1/log?stream=true",
        NoTimeout,
        None,
    );
    k.add(
        "actorBuild_openapi_json_get",
        |c| c.build("b1").get_open_api_definition(),
        "GET /v2/actor-builds/b1/openapi.json",
        Medium,
        None,
    );
    // Runs
    k.add(
        "actors_runs_get",
        |c| c.actor("a").runs().list().status("SUCCEEDED").started_after(ts()).started_before(ts()).limit(10u64).desc(true).offset(0u64),
        "GET /v2/actors/a/runs?status=SUCCEEDED&startedAfter=2024-01-02T03%3A04%3A05.000Z&startedBefore=2024-01-02T03%3A04%3A05.000Z&limit=10&desc=true&offset=0",
        Medium,
        None,
    );
    let b64 = hook_b64.clone();
    let h = hook.clone();
    k.add(
        "actors_runs_post",
        move |c| {
            c.actor("john/a")
                .start()
                .input(json!({"foo": "bar"}))
                .build("beta")
                .memory_mbytes(256u64)
                .run_timeout(Duration::from_secs(30))
                .max_items(10u64)
                .max_total_charge_usd(5.0)
                .restart_on_error(true)
                .wait_for_finish(60u64)
                .force_permission_level("LIMITED_PERMISSIONS")
                .webhooks(std::slice::from_ref(&h))
        },
        &format!(
            "POST /v2/actors/john~a/runs?build=beta&memory=256&timeout=30&maxItems=10&maxTotalChargeUsd=5&restartOnError=true&waitForFinish=60&forcePermissionLevel=LIMITED_PERMISSIONS&webhooks={}",
            b64.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
        ),
        Medium,
        Some(r#"{"foo":"bar"}"#),
    );
    // The four run-sync routes of Actors and tasks share their options (and the GET
    // variants are the POST ones without a body).
    for (what, base) in [("actor", "/v2/actors/a"), ("task", "/v2/actor-tasks/t")] {
        let sync = move |c: &C| if what == "actor" { c.actor("a").run_sync() } else { c.task("t").run_sync() };
        let (post, get, items_post, items_get) = if what == "actor" {
            (
                "actor_runSync_post",
                "actor_runSync_get",
                "actor_runSyncGetDatasetItems_post",
                "actor_runSyncGetDatasetItems_get",
            )
        } else {
            (
                "actorTask_runSync_post",
                "actorTask_runSync_get",
                "actorTask_runSyncGetDatasetItems_post",
                "actorTask_runSyncGetDatasetItems_get",
            )
        };
        k.add(
            post,
            move |c| run_opts!(sync(c).input("text input").output_record_key("OUT")),
            &format!("POST {base}/run-sync?outputRecordKey=OUT&{}", run_q(&hook_b64)),
            NoTimeout,
            Some("text input"),
        );
        k.add(
            get,
            move |c| run_opts!(sync(c).input("dropped").with_get().output_record_key("OUT")),
            &format!("GET {base}/run-sync?outputRecordKey=OUT&{}", run_q(&hook_b64)),
            NoTimeout,
            None,
        );
        let c = client(MockResponse::json(201, json!([])));
        let items = move |c: &C| {
            if what == "actor" {
                c.actor("a").run_sync_get_dataset_items()
            } else {
                c.task("t").run_sync_get_dataset_items()
            }
        };
        k.add_stream(
            items_post,
            items(&c).input(json!({"x": 1})).options(|o| run_opts!(o)).items(|d| items_opts!(d)),
            &format!("POST {base}/run-sync-get-dataset-items?{}&{ITEMS_Q}", run_q(&hook_b64)),
            NoTimeout,
            Some(r#"{"x":1}"#),
        );
        k.add_stream(
            items_get,
            items(&c).input(json!({"x": 1})).with_get().options(|o| run_opts!(o)).items(|d| items_opts!(d)),
            &format!("GET {base}/run-sync-get-dataset-items?{}&{ITEMS_Q}", run_q(&hook_b64)),
            NoTimeout,
            None,
        );
    }
    k.add(
        "actor_run_resurrect_post",
        |c| {
            c.actor("a")
                .run("r1")
                .resurrect()
                .build("b")
                .memory_mbytes(1024u64)
                .run_timeout(Duration::from_secs(9))
                .restart_on_error(true)
        },
        "POST /v2/actors/a/runs/r1/resurrect?build=b&memory=1024&timeout=9&restartOnError=true",
        Medium,
        None,
    );
    k.add(
        "actor_runs_last_get",
        |c| c.actor("a").last_run().status("SUCCEEDED").origin("API").get().wait_for_finish(3u64),
        "GET /v2/actors/a/runs/last?status=SUCCEEDED&origin=API&waitForFinish=3",
        Short,
        None,
    );
    k.add(
        "actors_run_get",
        |c| c.actor("a").run("r1").get().wait_for_finish(1u64),
        "GET /v2/actors/a/runs/r1?waitForFinish=1",
        Short,
        None,
    );
    k.add(
        "actors_run_abort_post",
        |c| c.actor("a").run("r1").abort().gracefully(true),
        "POST /v2/actors/a/runs/r1/abort?gracefully=true",
        Medium,
        None,
    );
    k.add(
        "actors_run_metamorph_post",
        |c| c.actor("a").run("r1").metamorph("john/b").target_actor_build("beta"),
        "POST /v2/actors/a/runs/r1/metamorph?targetActorId=john~b&build=beta",
        Medium,
        None,
    );
    k.add(
        "actorRuns_get",
        |c| c.runs().list().statuses(["SUCCEEDED", "FAILED"]).limit(3u64).offset(0u64).desc(true).started_after(ts()).started_before(ts()),
        "GET /v2/actor-runs?status=SUCCEEDED%2CFAILED&limit=3&offset=0&desc=true&startedAfter=2024-01-02T03%3A04%3A05.000Z&startedBefore=2024-01-02T03%3A04%3A05.000Z",
        Medium,
        None,
    );
    k.add(
        "actorRun_get",
        |c| c.run("r1").get().wait_for_finish(7u64),
        "GET /v2/actor-runs/r1?waitForFinish=7",
        Short,
        None,
    );
    k.add(
        "actorRun_put",
        |c| c.run("r1").update().status_message("half").is_status_message_terminal(false).general_access("RESTRICTED"),
        "PUT /v2/actor-runs/r1",
        Short,
        Some(r#"{"statusMessage":"half","isStatusMessageTerminal":false,"generalAccess":"RESTRICTED"}"#),
    );
    k.add("actorRun_delete", |c| c.run("r1").delete(), "DELETE /v2/actor-runs/r1", Short, None);
    k.add(
        "actorRun_abort_post",
        |c| c.run("r1").abort().gracefully(false),
        "POST /v2/actor-runs/r1/abort?gracefully=false",
        Medium,
        None,
    );
    k.add(
        "actorRun_metamorph_post",
        |c| c.run("r1").metamorph("b").target_actor_build("1.0").input(json!({"i": 2})),
        "POST /v2/actor-runs/r1/metamorph?targetActorId=b&build=1.0",
        Medium,
        Some(r#"{"i":2}"#),
    );
    k.add("actorRun_reboot_post", |c| c.run("r1").reboot(), "POST /v2/actor-runs/r1/reboot", Medium, None);
    k.add(
        "PostResurrectRun",
        |c| {
            c.run("r1")
                .resurrect()
                .build("b")
                .memory_mbytes(1u64)
                .run_timeout(Duration::from_secs(2))
                .max_items(3u64)
                .max_total_charge_usd(4.0)
                .restart_on_error(true)
        },
        "POST /v2/actor-runs/r1/resurrect?build=b&memory=1&timeout=2&maxItems=3&maxTotalChargeUsd=4&restartOnError=true",
        Medium,
        None,
    );
    k.add(
        "PostChargeRun",
        |c| c.run("r1").charge("ANALYZE").count(2).idempotency_key("k-1").request_id("q"),
        "POST /v2/actor-runs/r1/charge",
        Short,
        Some(r#"{"eventName":"ANALYZE","count":2,"requestId":"q"}"#),
    );
    k.add(
        "actorRun_log_get",
        |c| c.run("r1").log().get().raw(true).download(false),
        "GET /v2/actor-runs/r1/log?raw=true&download=false",
        Long,
        None,
    );
    k.add_stream(
        "actorRun_log_get",
        client(MockResponse::text(200, "")).run("r1").log().stream().raw(true),
        "GET /v2/actor-runs/r1/log?stream=true&raw=true",
        NoTimeout,
        None,
    );
    // Tasks
    k.add(
        "actorTasks_get",
        |c| c.tasks().list().limit(1u64).offset(2u64).desc(false),
        "GET /v2/actor-tasks?limit=1&offset=2&desc=false",
        Medium,
        None,
    );
    k.add(
        "actorTasks_post",
        |c| c.tasks().create("john/a", "t1").task_input(json!({"q": 1})).memory_mbytes(512u64).public_config_dataset_name("d"),
        "POST /v2/actor-tasks",
        Medium,
        Some(r#"{"actId":"john/a","name":"t1","input":{"q":1},"options":{"memoryMbytes":512},"publicConfig":{"datasetName":"d"}}"#),
    );
    k.add("actorTask_get", |c| c.task("john/t").get(), "GET /v2/actor-tasks/john~t", Short, None);
    k.add(
        "actorTask_put",
        |c| c.task("t").update().title("T").build("b"),
        "PUT /v2/actor-tasks/t",
        Short,
        Some(r#"{"title":"T","options":{"build":"b"}}"#),
    );
    k.add("actorTask_put", |c| c.task("t").publish(), "PUT /v2/actor-tasks/t", Short, Some(r#"{"isPublic":true}"#));
    k.add("actorTask_delete", |c| c.task("t").delete(), "DELETE /v2/actor-tasks/t", Short, None);
    k.add("actorTask_input_get", |c| c.task("t").get_input(), "GET /v2/actor-tasks/t/input", Short, None);
    k.add(
        "actorTask_input_put",
        |c| c.task("t").update_input(json!({"myField2": "updated-value"})),
        "PUT /v2/actor-tasks/t/input",
        Short,
        Some(r#"{"myField2":"updated-value"}"#),
    );
    k.add(
        "actorTask_webhooks_get",
        |c| c.task("t").webhooks().list().limit(5u64).offset(0u64).desc(true),
        "GET /v2/actor-tasks/t/webhooks?limit=5&offset=0&desc=true",
        Medium,
        None,
    );
    k.add(
        "actorTask_runs_get",
        |c| c.task("t").runs().list().status("RUNNING").offset(1u64).limit(1u64).desc(true),
        "GET /v2/actor-tasks/t/runs?status=RUNNING&offset=1&limit=1&desc=true",
        Medium,
        None,
    );
    let h = hook.clone();
    let b64 = hook_b64.clone();
    k.add(
        "actorTask_runs_post",
        move |c| {
            c.task("t")
                .start()
                .input(json!({"a": 1}))
                .build("b")
                .memory_mbytes(1u64)
                .run_timeout(Duration::from_secs(1))
                .max_items(1u64)
                .max_total_charge_usd(1.0)
                .restart_on_error(true)
                .wait_for_finish(1u64)
                .webhooks(std::slice::from_ref(&h))
        },
        &format!(
            "POST /v2/actor-tasks/t/runs?build=b&memory=1&timeout=1&maxItems=1&maxTotalChargeUsd=1&restartOnError=true&waitForFinish=1&webhooks={}",
            b64.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
        ),
        Medium,
        Some(r#"{"a":1}"#),
    );
    k.add(
        "actorTask_runs_last_get",
        |c| c.task("t").last_run().origin("WEB").status("RUNNING").get().wait_for_finish(2u64),
        "GET /v2/actor-tasks/t/runs/last?status=RUNNING&origin=WEB&waitForFinish=2",
        Short,
        None,
    );
    // Datasets
    k.add(
        "datasets_get",
        |c| c.datasets().list().unnamed(true).limit(1u64).offset(2u64).desc(true).ownership("ownedByMe"),
        "GET /v2/datasets?unnamed=true&limit=1&offset=2&desc=true&ownership=ownedByMe",
        Medium,
        None,
    );
    k.add("datasets_post", |c| c.datasets().get_or_create().name("n"), "POST /v2/datasets?name=n", Short, Some("{}"));
    k.add("dataset_get", |c| c.dataset("d").get(), "GET /v2/datasets/d", Short, None);
    k.add("dataset_put", |c| c.dataset("d").update().title("T"), "PUT /v2/datasets/d", Short, Some(r#"{"title":"T"}"#));
    k.add("dataset_delete", |c| c.dataset("d").delete(), "DELETE /v2/datasets/d", Short, None);
    k.add(
        "dataset_items_get",
        |c| {
            c.dataset("d")
                .list_items()
                .offset(1u64)
                .limit(2u64)
                .desc(true)
                .clean(true)
                .fields(["a"])
                .output_fields(["a"])
                .omit(["b"])
                .unwind(["u"])
                .skip_empty(true)
                .skip_hidden(true)
                .flatten(["f"])
                .view("v")
                .simplified(true)
                .skip_failed_pages(true)
                .signature("s")
        },
        "GET /v2/datasets/d/items?offset=1&limit=2&desc=true&clean=true&fields=a&outputFields=a&omit=b&unwind=u&skipEmpty=true&skipHidden=true&flatten=f&view=v&simplified=true&skipFailedPages=true&signature=s",
        Long,
        None,
    );
    k.add_stream(
        "dataset_items_get",
        c.dataset("d").stream_items().format("xml").xml_root("r").xml_row("w").delimiter(",").bom(false).attachment(true).skip_header_row(true).feed_title("t").feed_description("d"),
        "GET /v2/datasets/d/items?format=xml&bom=false&delimiter=%2C&skipHeaderRow=true&xmlRoot=r&xmlRow=w&attachment=true&feedTitle=t&feedDescription=d",
        Long, None);
    k.add(
        "dataset_items_head",
        |c| {
            c.dataset("d")
                .get_items_head()
                .offset(1u64)
                .limit(1u64)
                .desc(true)
                .clean(true)
                .fields(["a"])
                .output_fields(["a"])
                .omit(["b"])
                .unwind(["u"])
                .skip_empty(true)
                .skip_hidden(true)
                .flatten(["f"])
                .view("v")
                .simplified(true)
                .skip_failed_pages(true)
                .signature("s")
                .format("csv")
                .bom(true)
                .delimiter(";")
                .skip_header_row(true)
                .xml_root("r")
                .xml_row("w")
                .attachment(true)
                .feed_title("t")
                .feed_description("d")
        },
        "HEAD /v2/datasets/d/items?format=csv&offset=1&limit=1&desc=true&clean=true&fields=a&outputFields=a&omit=b&unwind=u&skipEmpty=true&skipHidden=true&flatten=f&view=v&simplified=true&skipFailedPages=true&signature=s&bom=true&delimiter=%3B&skipHeaderRow=true&xmlRoot=r&xmlRow=w&attachment=true&feedTitle=t&feedDescription=d",
        Long,
        None,
    );
    k.add(
        "dataset_items_post",
        |c| c.dataset("d").push_items(&[json!({"a": 1})]),
        "POST /v2/datasets/d/items",
        Medium,
        Some(r#"[{"a":1}]"#),
    );
    k.add("dataset_statistics_get", |c| c.dataset("d").get_statistics(), "GET /v2/datasets/d/statistics", Short, None);
    // Key-value stores
    k.add(
        "keyValueStores_get",
        |c| c.key_value_stores().list().desc(true).offset(0u64).limit(5u64).unnamed(true).ownership("sharedWithMe"),
        "GET /v2/key-value-stores?unnamed=true&limit=5&offset=0&desc=true&ownership=sharedWithMe",
        Medium,
        None,
    );
    k.add(
        "keyValueStores_post",
        |c| c.key_value_stores().get_or_create().name("n"),
        "POST /v2/key-value-stores?name=n",
        Short,
        Some("{}"),
    );
    k.add("keyValueStore_get", |c| c.key_value_store("s").get(), "GET /v2/key-value-stores/s", Short, None);
    k.add(
        "keyValueStore_put",
        |c| c.key_value_store("s").update().name("n2"),
        "PUT /v2/key-value-stores/s",
        Long,
        Some(r#"{"name":"n2"}"#),
    );
    k.add("keyValueStore_delete", |c| c.key_value_store("s").delete(), "DELETE /v2/key-value-stores/s", Short, None);
    k.add(
        "keyValueStore_keys_get",
        |c| {
            c.key_value_store("s")
                .list_keys()
                .exclusive_start_key("a")
                .limit(2u64)
                .collection("c")
                .prefix("p")
                .signature("x")
        },
        "GET /v2/key-value-stores/s/keys?limit=2&exclusiveStartKey=a&collection=c&prefix=p&signature=x",
        Medium,
        None,
    );
    k.add_stream(
        "keyValueStore_records_get",
        c.key_value_store("s").download_records().collection("c").prefix("p").signature("x"),
        "GET /v2/key-value-stores/s/records?collection=c&prefix=p&signature=x",
        Long,
        None,
    );
    k.add(
        "keyValueStore_record_get",
        |c| c.key_value_store("s").get_record("a b").signature("x"),
        "GET /v2/key-value-stores/s/records/a%20b?attachment=true&signature=x",
        Long,
        None,
    );
    k.add(
        "keyValueStore_record_head",
        |c| c.key_value_store("s").record_exists("k"),
        "HEAD /v2/key-value-stores/s/records/k",
        Long,
        None,
    );
    k.add(
        "keyValueStore_record_put",
        |c| c.key_value_store("s").set_record("k", "v"),
        "PUT /v2/key-value-stores/s/records/k",
        Long,
        Some("v"),
    );
    k.add(
        "keyValueStore_record_post",
        |c| c.key_value_store("s").post_record("k", json!({"a": 1})),
        "POST /v2/key-value-stores/s/records/k",
        Long,
        Some(r#"{"a":1}"#),
    );
    k.add(
        "keyValueStore_record_delete",
        |c| c.key_value_store("s").delete_record("k"),
        "DELETE /v2/key-value-stores/s/records/k",
        Short,
        None,
    );
    // Request queues
    let rq = |c: &C| c.request_queue("q").with_client_key("ck");
    k.add(
        "requestQueues_get",
        |c| c.request_queues().list().unnamed(false).limit(1u64).offset(1u64).desc(false).ownership("ownedByMe"),
        "GET /v2/request-queues?unnamed=false&limit=1&offset=1&desc=false&ownership=ownedByMe",
        Medium,
        None,
    );
    k.add(
        "requestQueues_post",
        |c| c.request_queues().get_or_create().name("n"),
        "POST /v2/request-queues?name=n",
        Short,
        None,
    );
    k.add("requestQueue_get", |c| c.request_queue("q").get(), "GET /v2/request-queues/q", Short, None);
    k.add(
        "requestQueue_put",
        |c| c.request_queue("q").update().title("T"),
        "PUT /v2/request-queues/q",
        Short,
        Some(r#"{"title":"T"}"#),
    );
    k.add("requestQueue_delete", |c| c.request_queue("q").delete(), "DELETE /v2/request-queues/q", Short, None);
    k.add(
        "requestQueue_requests_get",
        move |c| rq(c).list_requests().limit(5u64).cursor("cur").filter(["locked"]),
        "GET /v2/request-queues/q/requests?limit=5&filter=locked&cursor=cur&clientKey=ck",
        Medium,
        None,
    );
    k.add(
        "requestQueue_requests_get",
        move |c| rq(c).list_requests().exclusive_start_id("r0"),
        "GET /v2/request-queues/q/requests?exclusiveStartId=r0&clientKey=ck",
        Medium,
        None,
    );
    k.add(
        "requestQueue_requests_post",
        move |c| rq(c).add_request(Request::new("k", "https://e.com")).forefront(true),
        "POST /v2/request-queues/q/requests?forefront=true&clientKey=ck",
        Short,
        Some(r#"{"uniqueKey":"k","url":"https://e.com"}"#),
    );
    k.add(
        "requestQueue_request_get",
        move |c| rq(c).get_request("r1"),
        "GET /v2/request-queues/q/requests/r1",
        Short,
        None,
    );
    k.add(
        "requestQueue_request_put",
        move |c| {
            rq(c)
                .update_request(Request { id: Some("r1".into()), ..Request::new("k", "https://e.com") })
                .forefront(true)
        },
        "PUT /v2/request-queues/q/requests/r1?forefront=true&clientKey=ck",
        Medium,
        Some(r#"{"id":"r1","uniqueKey":"k","url":"https://e.com"}"#),
    );
    k.add(
        "requestQueue_request_delete",
        move |c| rq(c).delete_request("r1"),
        "DELETE /v2/request-queues/q/requests/r1?clientKey=ck",
        Short,
        None,
    );
    k.add(
        "requestQueue_requests_batch_post",
        move |c| rq(c).batch_add_requests(&[Request::new("k", "https://e.com")]).forefront(true),
        "POST /v2/request-queues/q/requests/batch?forefront=true&clientKey=ck",
        Medium,
        Some(r#"[{"uniqueKey":"k","url":"https://e.com"}]"#),
    );
    k.add(
        "requestQueue_requests_batch_delete",
        move |c| rq(c).batch_delete_requests(vec![RequestRef::Id("r1".into())]),
        "DELETE /v2/request-queues/q/requests/batch?clientKey=ck",
        Short,
        Some(r#"[{"id":"r1"}]"#),
    );
    k.add(
        "requestQueue_head_get",
        move |c| rq(c).list_head().limit(3u64),
        "GET /v2/request-queues/q/head?limit=3&clientKey=ck",
        Short,
        None,
    );
    k.add(
        "requestQueue_requests_unlock_post",
        move |c| rq(c).unlock_requests(),
        "POST /v2/request-queues/q/requests/unlock?clientKey=ck",
        Long,
        None,
    );
    k.add(
        "requestQueue_head_lock_post",
        move |c| rq(c).list_and_lock_head(Duration::from_secs(60)).limit(25u64),
        "POST /v2/request-queues/q/head/lock?lockSecs=60&limit=25&clientKey=ck",
        Medium,
        None,
    );
    k.add(
        "requestQueue_request_lock_put",
        move |c| rq(c).prolong_request_lock("r1", Duration::from_secs(30)).forefront(true),
        "PUT /v2/request-queues/q/requests/r1/lock?lockSecs=30&forefront=true&clientKey=ck",
        Medium,
        None,
    );
    k.add(
        "requestQueue_request_lock_delete",
        move |c| rq(c).delete_request_lock("r1").forefront(false),
        "DELETE /v2/request-queues/q/requests/r1/lock?forefront=false&clientKey=ck",
        Short,
        None,
    );
    // Webhooks and dispatches
    k.add(
        "actor_webhooks_get",
        |c| c.actor("a").webhooks().list().offset(1u64).limit(1u64).desc(true),
        "GET /v2/actors/a/webhooks?offset=1&limit=1&desc=true",
        Medium,
        None,
    );
    k.add(
        "webhooks_get",
        |c| c.webhooks().list().limit(10u64).offset(1u64).desc(true),
        "GET /v2/webhooks?limit=10&offset=1&desc=true",
        Medium,
        None,
    );
    k.add(
        "webhooks_post",
        |c| c.webhooks().create(["ACTOR.RUN.SUCCEEDED"], "http://127.0.0.1/h").actor_id("a").idempotency_key("i"),
        "POST /v2/webhooks",
        Short,
        Some(r#"{"eventTypes":["ACTOR.RUN.SUCCEEDED"],"requestUrl":"http://127.0.0.1/h","condition":{"actorId":"a"},"idempotencyKey":"i"}"#),
    );
    k.add("webhook_get", |c| c.webhook("w").get(), "GET /v2/webhooks/w", Short, None);
    k.add(
        "webhook_put",
        |c| c.webhook("w").update().do_not_retry(true),
        "PUT /v2/webhooks/w",
        Short,
        Some(r#"{"doNotRetry":true}"#),
    );
    k.add("webhook_delete", |c| c.webhook("w").delete(), "DELETE /v2/webhooks/w", Short, None);
    k.add("webhook_test_post", |c| c.webhook("w").test(), "POST /v2/webhooks/w/test", Medium, None);
    k.add(
        "webhook_webhookDispatches_get",
        |c| c.webhook("w").dispatches().list(),
        "GET /v2/webhooks/w/dispatches",
        Medium,
        None,
    );
    k.add(
        "webhookDispatches_get",
        |c| c.webhook_dispatches().list().offset(0u64).limit(9u64).desc(false),
        "GET /v2/webhook-dispatches?offset=0&limit=9&desc=false",
        Medium,
        None,
    );
    k.add("webhookDispatch_get", |c| c.webhook_dispatch("x").get(), "GET /v2/webhook-dispatches/x", Short, None);
    // Schedules
    k.add(
        "schedules_get",
        |c| c.schedules().list().limit(1u64).offset(1u64).desc(true),
        "GET /v2/schedules?limit=1&offset=1&desc=true",
        Medium,
        None,
    );
    k.add(
        "schedules_post",
        |c| c.schedules().create("* * * * *", true, false).name("s").actions([json!({"type": "RUN_ACTOR", "actorId": "a"})]),
        "POST /v2/schedules",
        Short,
        Some(r#"{"cronExpression":"* * * * *","isEnabled":true,"isExclusive":false,"name":"s","actions":[{"type":"RUN_ACTOR","actorId":"a"}]}"#),
    );
    k.add("schedule_get", |c| c.schedule("s").get(), "GET /v2/schedules/s", Short, None);
    k.add(
        "schedule_put",
        |c| c.schedule("s").update().timezone("UTC").notifications_email(true),
        "PUT /v2/schedules/s",
        Short,
        Some(r#"{"timezone":"UTC","notifications":{"email":true}}"#),
    );
    k.add("schedule_delete", |c| c.schedule("s").delete(), "DELETE /v2/schedules/s", Short, None);
    k.add("schedule_log_get", |c| c.schedule("s").get_log(), "GET /v2/schedules/s/log", Medium, None);
    // Store, logs, users, tools
    k.add(
        "store_get",
        |c| {
            c.store()
                .list()
                .limit(1u64)
                .offset(2u64)
                .search("web")
                .sort_by("popularity")
                .category("AI")
                .username("apify")
                .pricing_model("FREE")
                .allows_agentic_users(true)
                .response_format("agent")
                .include_unrunnable_actors(false)
        },
        "GET /v2/store?limit=1&offset=2&search=web&sortBy=popularity&category=AI&username=apify&pricingModel=FREE&allowsAgenticUsers=true&responseFormat=agent&includeUnrunnableActors=false",
        Medium,
        None,
    );
    k.add(
        "log_get",
        |c| c.log("r1").get().raw(true).download(true),
        "GET /v2/logs/r1?raw=true&download=true",
        Long,
        None,
    );
    k.add_stream("log_get", c.log("r1").stream(), "GET /v2/logs/r1?stream=true", NoTimeout, None);
    k.add("user_get", |c| c.user("u1").get(), "GET /v2/users/u1", Short, None);
    k.add("users_me_get", |c| c.user(None).get(), "GET /v2/users/me", Short, None);
    k.add(
        "users_me_usage_monthly_get",
        |c| c.user(None).monthly_usage().date("2024-01-01"),
        "GET /v2/users/me/usage/monthly?date=2024-01-01",
        Short,
        None,
    );
    k.add("users_me_limits_get", |c| c.user(None).limits(), "GET /v2/users/me/limits", Short, None);
    k.add(
        "users_me_limits_put",
        |c| c.user(None).update_limits().max_monthly_usage_usd(300.0).data_retention_days(7u64),
        "PUT /v2/users/me/limits",
        Short,
        Some(r#"{"maxMonthlyUsageUsd":300,"dataRetentionDays":7}"#),
    );
    k.add(
        "tools_browser_info_get",
        |c| c.tools().browser_info().skip_headers(true).raw_headers(true),
        "GET /v2/browser-info?skipHeaders=true&rawHeaders=true",
        Short,
        None,
    );
    k.add(
        "tools_browser_info_post",
        |c| c.tools().browser_info().method(Method::POST).skip_headers(false).raw_headers(false),
        "POST /v2/browser-info?skipHeaders=false&rawHeaders=false",
        Short,
        None,
    );
    k.add(
        "tools_browser_info_put",
        |c| c.tools().browser_info().method(Method::PUT).skip_headers(false).raw_headers(false),
        "PUT /v2/browser-info?skipHeaders=false&rawHeaders=false",
        Short,
        None,
    );
    k.add(
        "tools_browser_info_delete",
        |c| c.tools().browser_info().method(Method::DELETE).skip_headers(false).raw_headers(false),
        "DELETE /v2/browser-info?skipHeaders=false&rawHeaders=false",
        Short,
        None,
    );
    k.add(
        "tools_encode_and_sign_post",
        |c| c.tools().encode_and_sign(json!({"key": "value"})),
        "POST /v2/tools/encode-and-sign",
        Short,
        Some(r#"{"key":"value"}"#),
    );
    k.add(
        "tools_decode_and_verify_post",
        |c| c.tools().decode_and_verify("abc"),
        "POST /v2/tools/decode-and-verify",
        Short,
        Some(r#"{"encoded":"abc"}"#),
    );

    // Alias routes, reached through chained clients (the request names the core operation).
    k.add(
        "dataset_items_get",
        |c| c.run("r1").dataset().list_items().limit(1u64),
        "GET /v2/actor-runs/r1/dataset/items?limit=1",
        Long,
        None,
    );
    k.add(
        "keyValueStore_record_get",
        |c| c.run("r1").key_value_store().get_record("OUTPUT"),
        "GET /v2/actor-runs/r1/key-value-store/records/OUTPUT?attachment=true",
        Long,
        None,
    );
    k.add(
        "requestQueue_head_get",
        |c| c.run("r1").request_queue().list_head(),
        "GET /v2/actor-runs/r1/request-queue/head",
        Short,
        None,
    );
    k.add(
        "dataset_items_get",
        |c| c.actor("a").last_run().status("SUCCEEDED").dataset().list_items(),
        "GET /v2/actors/a/runs/last/dataset/items?status=SUCCEEDED",
        Long,
        None,
    );
    k.add(
        "keyValueStore_keys_get",
        |c| c.actor("a").last_run().origin("API").status("FAILED").key_value_store().list_keys().limit(1u64),
        "GET /v2/actors/a/runs/last/key-value-store/keys?status=FAILED&origin=API&limit=1",
        Medium,
        None,
    );
    k.add(
        "actorRun_log_get",
        |c| c.actor("a").last_run().status("SUCCEEDED").log().get(),
        "GET /v2/actors/a/runs/last/log?status=SUCCEEDED",
        Long,
        None,
    );
    k.add(
        "actorRun_abort_post",
        |c| c.task("t").last_run().origin("SCHEDULER").abort(),
        "POST /v2/actor-tasks/t/runs/last/abort?origin=SCHEDULER",
        Medium,
        None,
    );
    k.add(
        "actorRun_reboot_post",
        |c| c.actor("a").last_run().reboot(),
        "POST /v2/actors/a/runs/last/reboot",
        Medium,
        None,
    );
    k.add(
        "actorRun_metamorph_post",
        |c| c.task("t").last_run().metamorph("b"),
        "POST /v2/actor-tasks/t/runs/last/metamorph?targetActorId=b",
        Medium,
        None,
    );
    k.add(
        "requestQueue_requests_batch_post",
        |c| c.task("t").last_run().status("SUCCEEDED").request_queue().batch_add_requests(&[Request::new("k", "u")]),
        "POST /v2/actor-tasks/t/runs/last/request-queue/requests/batch?status=SUCCEEDED&forefront=false",
        Medium,
        Some(r#"[{"uniqueKey":"k","url":"u"}]"#),
    );
    k.all
}

// ---------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------

fn line(req: &ApiRequest) -> String {
    let pq = req.uri.path_and_query().map_or("", |p| p.as_str());
    format!("{} {pq}", req.method)
}

fn body_text(req: &ApiRequest) -> Option<String> {
    (!req.body.is_empty()).then(|| String::from_utf8_lossy(&req.body).into_owned())
}

#[test]
fn every_operation_is_typed_or_aliased_and_every_query_parameter_is_sendable() {
    let ops = doc_ops();
    assert_eq!(ops.len(), 231, "the document has 231 operations");
    let by_id: BTreeMap<&str, &DocOp> = ops.iter().map(|o| (o.id.as_str(), o)).collect();

    // Every registry entry is in the document, with its method and path.
    for spec in registry::ALL {
        let doc = by_id.get(spec.id).unwrap_or_else(|| panic!("registry entry {} is not in the document", spec.id));
        assert_eq!((&doc.method, doc.path.as_str()), (&spec.method, spec.path), "{}", spec.id);
    }

    // Every golden: its request names its operation, fits its path, has its tier and body.
    let cases = cases(&ops);
    let mut failures = Vec::new();
    let mut sent_params: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut decoded = 0;
    for case in &cases {
        let spec: &OpSpec = registry::find(case.id).unwrap_or_else(|| panic!("case for unknown operation {}", case.id));
        let got = line(&case.req);
        if got != case.want {
            failures.push(format!("{}: sent\n    {got}\n  expected\n    {}", case.id, case.want));
        }
        if case.req.meta.operation_id != case.id {
            failures.push(format!("{}: the request names {}", case.id, case.req.meta.operation_id));
        }
        let path = case.req.uri.path();
        let core_path = resolve_alias(path).map(|(p, _)| p).filter(|_| !fits(spec.path, path));
        if case.req.method != spec.method || !fits(spec.path, core_path.as_deref().unwrap_or(path)) {
            failures.push(format!("{}: {got} does not fit {} {}", case.id, spec.method, spec.path));
        }
        if case.req.timeout != case.tier {
            failures.push(format!("{}: timeout {:?}, expected {:?}", case.id, case.req.timeout, case.tier));
        }
        if body_text(&case.req) != case.body {
            failures.push(format!("{}: body {:?}, expected {:?}", case.id, body_text(&case.req), case.body));
        }
        // Headers: the token and user agent on every request; a content type exactly when
        // there is a body, JSON for JSON bodies.
        let headers = case.req.all_headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if header("authorization") != "Bearer t" || !header("user-agent").starts_with("ApifyClient/") {
            failures.push(format!(
                "{}: authorization {:?}, user agent {:?}",
                case.id,
                header("authorization"),
                header("user-agent")
            ));
        }
        let ct = header("content-type");
        let want_ct = match case.body.as_deref() {
            None => "",
            Some(b) if b.starts_with('{') || b.starts_with('[') => "application/json",
            Some(_) => "text/plain",
        };
        if (want_ct.is_empty() && !ct.is_empty()) || !ct.starts_with(want_ct) {
            failures.push(format!("{}: content type {ct:?}, expected {want_ct:?}", case.id));
        }
        if case.id == "PostChargeRun" && header("idempotency-key") != "k-1" {
            failures.push(format!("PostChargeRun: idempotency-key {:?}", header("idempotency-key")));
        }
        match &case.sent {
            Some(Ok(())) => decoded += 1,
            Some(Err(e)) => failures.push(format!("{}: the documented example did not decode: {e}", case.id)),
            None => {}
        }
        let q = case.req.uri.query().unwrap_or_default();
        let names = sent_params.entry(case.id).or_default();
        names.extend(url::form_urlencoded::parse(q.as_bytes()).map(|(k, _)| k.into_owned()));
    }

    // Every core operation has a typed call, and each of its query parameters is sent by one.
    let mut typed = 0;
    let mut aliased = 0;
    for op in &ops {
        if let Some(spec) = registry::find(&op.id) {
            typed += 1;
            let Some(sent) = sent_params.get(spec.id) else {
                failures.push(format!("{}: no typed call", op.id));
                continue;
            };
            for p in &op.query {
                if !sent.contains(p) {
                    failures.push(format!("{}: query parameter `{p}` is never sent", op.id));
                }
            }
        } else {
            // An alias: its rule leads to a core operation of the same method, whose
            // parameters plus the rule's extras are the alias's.
            match resolve_alias(&op.path) {
                Some((core, rule)) => match registry::ALL.iter().find(|s| s.method == op.method && s.path == core) {
                    Some(spec) => {
                        aliased += 1;
                        let core_doc = by_id[spec.id];
                        for p in &op.query {
                            if !core_doc.query.contains(p) && !rule.extra_query.contains(&p.as_str()) {
                                failures.push(format!("{}: query parameter `{p}` has no way to be sent", op.id));
                            }
                        }
                    }
                    None => failures.push(format!("{}: alias rule leads to {core}, not a core operation", op.id)),
                },
                None => failures.push(format!("{} ({} {}): neither typed nor aliased", op.id, op.method, op.path)),
            }
        }
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
    assert_eq!((typed, aliased), (133, 98), "coverage: {typed} typed + {aliased} aliased of 231");
    assert!(decoded >= 30, "only {decoded} documented examples were sent through their typed call");
    println!(
        "coverage: {} of 231 ({typed} typed, {aliased} through alias rules); {decoded} examples decoded",
        typed + aliased
    );
}

#[test]
fn the_operations_table_is_fresh() {
    let ops = doc_ops();
    let mut out = String::from(
        "# The Apify API v2 operations and their Rust methods\n\n\
         Generated by `tests/tests/api_coverage.rs` from the OpenAPI document and the core's operation\n\
         registry (`apify_core::ops::registry`); the test fails when this file is stale\n\
         (`APIFY_UPDATE_DOCS=1 cargo test -p apify-tests --test api_coverage` rewrites it).\n\n\
         Alias routes send their core operation's request below another path, through a chained\n\
         client (`run.dataset()`, `actor.last_run().status(..)`). Deprecated operations are reached\n\
         through `actor.run(id)` and `actor.build_by_id(id)`.\n\n\
         | # | Method | Path | operationId | Rust |\n|---|---|---|---|---|\n",
    );
    for (n, op) in ops.iter().enumerate() {
        let rust = match registry::find(&op.id) {
            Some(spec) => format!("`{}` (core, {:?})", spec.client_method, spec.tier),
            None => match resolve_alias(&op.path) {
                Some((core, rule)) => {
                    let spec = registry::ALL.iter().find(|s| s.method == op.method && s.path == core);
                    format!("`{}` → `{}` (alias)", rule.via, spec.map_or("?", |s| s.client_method))
                }
                None => "**missing**".to_owned(),
            },
        };
        let dep = if op.deprecated { " (deprecated)" } else { "" };
        out.push_str(&format!("| {} | {} | `{}` | `{}`{dep} | {rust} |\n", n + 1, op.method, op.path, op.id));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md");
    if std::env::var_os("APIFY_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &out).expect("writing docs/operations.md");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == out,
        "docs/operations.md is stale: run `APIFY_UPDATE_DOCS=1 cargo test -p apify-tests --test api_coverage`"
    );
    assert!(!out.contains("**missing**"));
}

#[test]
fn the_checks_can_fail() {
    // A path of another shape, and an alias prefix that is not one.
    assert!(!fits("/v2/actors/{actorId}/runs", "/v2/actors/a/builds"));
    assert!(fits("/v2/actors/{actorId}/runs", "/v2/actors/a/runs"));
    assert!(resolve_alias("/v2/actor-runs/r1/datasetx").is_none());
    assert_eq!(resolve_alias("/v2/actors/a/runs/last/log").unwrap().0, "/v2/actor-runs/{runId}/log");
    // A registry with a made-up id would be refused: there is no such operation.
    assert!(doc_ops().iter().all(|o| o.id != "actors_fly_post"));
}
