//! The usage guide's snippets as functions (the binaries `actors_and_runs` and
//! `streamed_log` run them against a scripted stand-in of the API on 127.0.0.1; the tests
//! run them too, so they keep working).

pub mod fake_api;

use std::time::Duration;

use apify_hyper::ApifyClient;
use futures_util::TryStreamExt;
use serde_json::{Value, json};

/// What the actors-and-runs walk-through saw.
#[derive(Debug)]
pub struct Walkthrough {
    /// The created Actor's ID.
    pub actor_id: String,
    /// The run started and waited for.
    pub run_status: String,
    /// IDs of the listed runs, newest first.
    pub runs: Vec<String>,
    /// Items of the last successful run's default dataset.
    pub items: Vec<Value>,
}

/// Creates an Actor, runs it, waits for it, lists its runs and reads the last successful
/// run's dataset — the snippets of the official client's guide, in Rust.
pub async fn actors_and_runs(client: &ApifyClient) -> Result<Walkthrough, apify_hyper::Error> {
    // client.actors().create(name="hello-world", ...)
    let actor = client.actors().create("hello-world").title("Hello world").default_run_memory_mbytes(256u64).await?;
    let hello = client.actor("john-doe/hello-world");

    // actor.call(run_input=...) = start + wait for the run to finish
    let run = hello.call().input(json!({"greeting": "hi"})).await?.expect("the run exists");

    // actor.runs().list(limit=10, desc=True)
    let runs = hello.runs().list().limit(10u64).desc(true).await?;

    // actor.last_run(status="SUCCEEDED").dataset().list_items()
    let items = hello.last_run().status("SUCCEEDED").dataset().list_items().await?;

    Ok(Walkthrough {
        actor_id: actor.id,
        run_status: run.status.to_string(),
        runs: runs.items.into_iter().map(|r| r.id).collect(),
        items: items.items,
    })
}

/// Follows a run's log line by line as it is written (async).
pub async fn stream_log(client: &ApifyClient, run_id: &str) -> Result<Vec<String>, apify_hyper::Error> {
    let mut lines = Vec::new();
    if let Some(mut log) = client.run(run_id).log().stream().await? {
        while let Some(line) = log.try_next().await? {
            lines.push(line);
        }
    }
    Ok(lines)
}

/// The same with no async runtime at all (a blocking driver).
pub fn stream_log_blocking(client: &apify_isahc::ApifyClient, run_id: &str) -> Result<Vec<String>, apify_isahc::Error> {
    let Some(log) = client.run(run_id).log().stream().send()? else { return Ok(Vec::new()) };
    log.collect()
}

/// Starts a run, then redirects its log to `tracing` while waiting for it (a task of its
/// own for the log, as `call()` of the official client does).
pub async fn run_with_redirected_log(client: &ApifyClient, actor: &str) -> Result<String, apify_hyper::Error> {
    let run = client.actor(actor).start().await?;
    let log = tokio::spawn(client.run(&run.id).get_streamed_log().into_future());
    let done = client.run(&run.id).wait_for_finish(Some(Duration::from_secs(60))).await?;
    // The log ends with the run; a log that lingers is not waited for long.
    let _ = tokio::time::timeout(Duration::from_secs(5), log).await;
    Ok(done.map(|r| r.status.to_string()).unwrap_or_default())
}

/// The README's tour of the whole API, compiled so that it stays true (not run: it
/// would need the platform).
#[allow(unused_variables, clippy::too_many_lines)]
pub async fn readme_tour(client: ApifyClient) -> Result<(), apify_hyper::Error> {
    use serde_json::json;
    use std::time::Duration;

    // Actors: create, update, start, call (start + wait), build, validate input.
    client.actors().create("my-actor").title("My Actor").default_run_memory_mbytes(256u64).await?;
    let actor = client.actor("john-doe/my-actor");
    let run = actor
        .start()
        .input(json!({"q": 1}))
        .memory_mbytes(1024u64)
        .webhooks(&[json!({
        "eventTypes": ["ACTOR.RUN.SUCCEEDED"], "requestUrl": "https://example.com/hook"})])
        .await?;
    let done = actor.call().input(json!({"q": 2})).wait_duration(Duration::from_secs(300)).await?;
    let build = actor.build("0.1").tag("beta").await?;

    // Runs: list, wait, abort, metamorph, resurrect, reboot, charge, the run's storages and log.
    let runs = actor.runs().list().limit(10u64).desc(true).status("SUCCEEDED").await?;
    let finished = client.run(&run.id).wait_for_finish(None).await?;
    client.run(&run.id).charge("ANALYZE_PAGE").count(3).await?; // one idempotency key, reused by retries
    let items = actor.last_run().status("SUCCEEDED").dataset().list_items().await?;
    let output = client.run(&run.id).key_value_store().get_record("OUTPUT").await?;

    // Logs: whole, or line by line as they are written; or redirected to `tracing`.
    let text = client.log(&run.id).get().await?; // Option<String>
    let lines = client.run(&run.id).log().stream().await?; // Option<LineStream>
    let redirect = client.run(&run.id).get_streamed_log(); // a future: spawn it
    let watcher = client.run(&run.id).get_status_message_watcher(); // likewise

    // Everything else, by the same names.
    client.task("john-doe/my-task").call().await?;
    client.webhooks().create(["ACTOR.RUN.FAILED"], "https://example.com/alert").actor_id(&run.act_id).await?;
    client.schedules().create("0 8 * * *", true, false).name("daily").await?;
    let me = client.user(None).get().await?; // private data of `me`
    let store = client.store().list().search("instagram").limit(5u64).await?;
    let usage = client.user(None).monthly_usage().await?;

    // The escape hatch: any request, with the same retries, auth, compression and decoding.
    let resp = client.raw(http::Method::GET, "acts/john-doe~my-actor/runs").query("limit", &1u64).await?;
    let _ = (done, build, runs, finished, items, output, text, lines, redirect, watcher, me, store, usage, resp);
    Ok(())
}

/// The README's "Other Actors, the run's status and its end", compiled so that it stays
/// true (not run: it calls the platform).
pub async fn sdk_runs(actor: &apify::Actor) -> Result<(), apify::Error> {
    let run = actor.call("apify/hello-world")?.input(json!({"message": "hi"})).await?.expect("the run");
    let started = actor.start("me/other")?.memory_mbytes(512u64).await?;
    let _task_run = actor.call_task("me/my-task")?.await?;
    actor.abort(&started.id)?.gracefully(true).await?;
    let _items = actor.new_client()?.run(&run.id).dataset().list_items().await?;
    actor.set_status_message("crawled 10 of 20 pages", false).await?;
    actor.add_webhook(["ACTOR.RUN.FAILED"], "https://example.com/alert")?.await?;
    actor.metamorph("me/next-step")?.input(json!({"from": "here"})).await?;
    actor.fail(2, "the site is down").await
}

/// The README's "Pay-per-event charging and the environment", compiled so that it stays true.
pub async fn sdk_charging(actor: &apify::Actor, items: &[Value]) -> Result<(), apify::Error> {
    let charged = actor.charge("page-crawled", 3).await?;
    if charged.event_charge_limit_reached { /* stop working: nobody pays for more */ }
    actor.charge_with_key("report", 1, "report-of-run-1").await?;
    let _r = actor.push_data_charged(&items, "result-item").await?;
    let _pricing = actor.get_pricing_info().await?;
    let _env = actor.get_env();
    Ok(())
}

/// The README's "State that survives a restart", compiled so that it stays true.
pub async fn sdk_state(actor: &apify::Actor) -> Result<(), apify::Error> {
    let state = actor.use_state(json!({"page": 0})).await?;
    state.lock()["page"] = json!(7);
    state.persist().await?;
    Ok(())
}

/// The README's "Proxies", compiled so that it stays true.
pub async fn sdk_proxy(actor: &apify::Actor) -> Result<(), apify::Error> {
    use apify::ProxyOptions;
    let proxy =
        actor.create_proxy_configuration(ProxyOptions::new().groups(["RESIDENTIAL"]).country_code("US")).await?;
    let _url = proxy.new_url(Some("session-1"))?;
    let _own =
        actor.create_proxy_configuration(ProxyOptions::new().proxy_urls(["http://a:3128", "http://b:3128"])).await?;
    Ok(())
}
