//! The local platform of the emulator: local Actors (a Python script of the standard
//! library, `tests/actors/scripted.py`) started, waited for, aborted and read back through
//! the client of each driver.

use std::time::{Duration, Instant};

use apify_core::client::{ApifyClient, Environment};
use apify_core::error::Error;
use apify_core::models::{ActorJobStatus, RecordValue};
use apify_local::platform::{LocalActor, PlatformOptions, WebhookRetries};
use serde_json::{Value, json};

use super::storage::TOKEN;
use super::{Mode, Outcome, Scenario, Step, Target, client_for, ensure};
use crate::Emulator;
use crate::server::{RecordedRequest, Reply, ScriptedServer};

/// The platform scenarios, by name.
pub(crate) fn scenarios<D: Environment, M: Mode<D>>() -> Vec<Scenario<D, M>> {
    vec![
        ("platform: call, then the run's dataset, OUTPUT, log and last run", call_and_read_back),
        ("platform: a failure, a timeout and an abort", failure_timeout_abort),
        ("platform: wait_for_finish across several polls", wait_across_polls),
        ("platform: the log followed while the run writes", log_followed),
        ("platform: run-sync, and the concurrent-runs limit", run_sync_and_limit),
        ("platform: metamorph, reboot and resurrect", metamorph_reboot_resurrect),
        ("platform: tasks, their merged input and last run", tasks),
        ("platform: webhooks delivered to a loopback listener, retried, tested", webhooks),
        ("platform: an Actor created through the API, its versions and env vars", created_actor),
    ]
}

/// `python3 tests/actors/scripted.py`, quoted for `sh -c`.
pub(crate) fn scripted_actor_command() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/actors/scripted.py");
    format!("python3 '{}'", path.replace('\'', r"'\''"))
}

struct Local<D> {
    client: ApifyClient<D>,
    _emulator: Emulator,
    _dir: tempfile::TempDir,
}

fn local<D: Environment, M: Mode<D>>(t: &Target<D, M>, configure: impl FnOnce(&mut PlatformOptions)) -> Local<D> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = PlatformOptions {
        actors: vec![
            LocalActor::new("scripted", &scripted_actor_command()).expect("a valid Actor"),
            LocalActor::new("other", &scripted_actor_command()).expect("a valid Actor"),
        ],
        workdir: dir.path().to_owned(),
        kill_grace: Duration::from_millis(500),
        ..PlatformOptions::default()
    };
    configure(&mut options);
    let emulator = Emulator::with_platform(&dir.path().join("storage"), Some(TOKEN), options);
    let client = client_for(t, emulator.url(), TOKEN);
    Local { client, _emulator: emulator, _dir: dir }
}

fn call_and_read_back<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let l = local(t, |_| {});
    let c = &l.client;
    let m = &t.mode;
    let builds = m.call(c.actor("scripted").builds().list()).step("list builds")?;
    let build_id = builds.items.first().map(|b| b.id.clone()).ok_or("no build")?;
    let build = m.call(c.build(&build_id).wait_for_finish(None)).step("wait for the build")?.ok_or("no build")?;
    ensure!(build.status == ActorJobStatus::Succeeded, "the build is {:?}", build.status);
    let input = json!({"items": 3, "output": {"answer": 42}, "print": ["hello ✓"], "status": "almost done"});
    let run = m.call(c.actor("scripted").call().input(input)).step("call")?.ok_or("the run disappeared")?;
    ensure!(run.status == ActorJobStatus::Succeeded, "ended as {} (exit {:?})", run.status, run.exit_code);
    ensure!(run.exit_code == Some(0), "exit code {:?}", run.exit_code);
    ensure!(run.finished_at.is_some(), "no finishedAt");
    ensure!(run.status_message.as_deref() == Some("almost done"), "status message {:?}", run.status_message);
    let r = c.run(&run.id);
    let items = m.call(r.dataset().list_items()).step("the run's dataset")?;
    let got: Vec<&Value> = items.items.iter().map(|v| &v["i"]).collect();
    ensure!(got == [&json!(0), &json!(1), &json!(2)], "items {got:?}");
    let output = m.call(r.key_value_store().get_record("OUTPUT")).step("OUTPUT")?.ok_or("no OUTPUT")?;
    ensure!(output.value == RecordValue::Json(json!({"answer": 42})), "OUTPUT {:?}", output.value);
    let stored = m.call(r.key_value_store().get_record("INPUT")).step("INPUT")?.ok_or("no INPUT")?;
    ensure!(
        stored.value
            == RecordValue::Json(
                json!({"items": 3, "output": {"answer": 42}, "print": ["hello ✓"], "status": "almost done"})
            ),
        "INPUT {:?}",
        stored.value
    );
    let log = m.call(r.log().get()).step("log")?.ok_or("no log")?;
    for want in ["started", "to stderr", "hello ✓", "pushed 3 items"] {
        ensure!(log.lines().any(|l| l.ends_with(want) || l.contains(want)), "log lacks {want:?}: {log}");
    }
    ensure!(log.lines().all(|l| l.len() > 24 && l.as_bytes()[23] == b'Z'), "a log line without its timestamp: {log}");
    let last = c.actor("scripted").last_run().status(ActorJobStatus::Succeeded);
    let last_items = m.call(last.dataset().list_items()).step("last run's dataset")?;
    ensure!(last_items.items.len() == 3, "last run's dataset has {} items", last_items.items.len());
    let last_run = m.call(last.get()).step("last run")?.ok_or("no last run")?;
    ensure!(last_run.id == run.id, "the last run is {}, not {}", last_run.id, run.id);
    let missing =
        m.call(c.actor("scripted").last_run().status(ActorJobStatus::Failed).get()).step("last failed run")?;
    ensure!(missing.is_none(), "a failed last run was found: {missing:?}");
    let runs = m.call(c.actor("scripted").runs().list()).step("list runs")?;
    ensure!(runs.items.len() == 1 && runs.items[0].id == run.id, "listed {:?}", runs.items);
    Ok(())
}

fn failure_timeout_abort<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let l = local(t, |_| {});
    let c = &l.client;
    let m = &t.mode;
    let failed = m.call(c.actor("scripted").call().input(json!({"exit": 3}))).step("call failing")?.ok_or("no run")?;
    ensure!(
        failed.status == ActorJobStatus::Failed && failed.exit_code == Some(3),
        "{} exit {:?}",
        failed.status,
        failed.exit_code
    );

    let started = Instant::now();
    let timed = m
        .call(c.actor("scripted").call().input(json!({"sleep": 60})).run_timeout(Duration::from_secs(1)))
        .step("call with a timeout")?
        .ok_or("no run")?;
    ensure!(timed.status == ActorJobStatus::TimedOut, "a run past its timeout ended as {}", timed.status);
    ensure!(started.elapsed() < Duration::from_secs(20), "the timeout took {:?}", started.elapsed());

    let run = m.call(c.actor("scripted").start().input(json!({"sleep": 60, "print": ["waiting"]}))).step("start")?;
    // Aborted once it runs (the log has its first line).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = m.call(c.run(&run.id).log().get()).step("log")?.unwrap_or_default();
        if log.contains("waiting") {
            break;
        }
        ensure!(Instant::now() < deadline, "the run never started: {log:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let aborted = m.call(c.run(&run.id).abort()).step("abort")?;
    ensure!(aborted.status == ActorJobStatus::Aborted, "abort answered {}", aborted.status);
    let last = m.call(c.actor("scripted").last_run().status(ActorJobStatus::Aborted).get()).step("last aborted")?;
    ensure!(last.is_some_and(|r| r.id == run.id), "the aborted run is not the last ABORTED one");
    let log = m.call(c.run(&run.id).log().get()).step("log")?.unwrap_or_default();
    ensure!(log.contains("ACTOR: The run was aborted."), "the log does not say so: {log}");
    Ok(())
}

fn wait_across_polls<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    // Each poll is held 1 s; the run takes ~2.5 s.
    let l = local(t, |o| o.max_wait = Duration::from_secs(1));
    let c = &l.client;
    let m = &t.mode;
    let run = m.call(c.actor("scripted").start().input(json!({"sleep": 2.5}))).step("start")?;
    let started = Instant::now();
    let done = m.call(c.run(&run.id).wait_for_finish(None)).step("wait_for_finish")?.ok_or("the run disappeared")?;
    ensure!(done.status == ActorJobStatus::Succeeded, "ended as {}", done.status);
    ensure!(started.elapsed() >= Duration::from_secs(2), "finished after {:?}", started.elapsed());
    // A wait bounded shorter than the run returns it still running.
    let run = m.call(c.actor("scripted").start().input(json!({"sleep": 5}))).step("start")?;
    let waited = m
        .call(c.run(&run.id).wait_for_finish(Some(Duration::from_millis(1500))))
        .step("bounded wait")?
        .ok_or("no run")?;
    ensure!(waited.status == ActorJobStatus::Running, "a bounded wait returned {}", waited.status);
    Ok(())
}

fn log_followed<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let l = local(t, |_| {});
    let c = &l.client;
    let m = &t.mode;
    let lines: Vec<String> = (0..8).map(|i| format!("line {i}")).collect();
    let run = m.call(c.actor("scripted").start().input(json!({"print": lines, "interval": 0.15}))).step("start")?;
    let stream = m.log_lines(c.run(&run.id).log().stream()).step("open the log stream")?.ok_or("no log")?;
    let mut got = Vec::new();
    let mut running_when_first = None;
    for line in stream {
        let line = line.step("read the log")?;
        if line.ends_with("line 0") {
            let now = m.call(c.run(&run.id).get()).step("get")?.ok_or("no run")?;
            running_when_first = Some(now.status);
        }
        got.push(line);
    }
    ensure!(
        running_when_first == Some(ActorJobStatus::Running),
        "the first line came when the run was {running_when_first:?}"
    );
    let printed: Vec<&str> =
        got.iter().filter_map(|l| l.split_once(' ').map(|(_, text)| text)).filter(|t| t.starts_with("line ")).collect();
    let want: Vec<&str> = lines.iter().map(String::as_str).collect();
    ensure!(printed == want, "followed lines {printed:?}");
    let end = m.call(c.run(&run.id).get()).step("get")?.ok_or("no run")?;
    ensure!(end.status == ActorJobStatus::Succeeded, "the stream ended before the run: {}", end.status);
    Ok(())
}

fn run_sync_and_limit<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let l = local(t, |o| o.max_concurrent_runs = 1);
    let c = &l.client;
    let m = &t.mode;
    let out = m.call(c.actor("scripted").run_sync().input(json!({"output": "the result"}))).step("run_sync")?;
    ensure!(out.value == RecordValue::Json(json!("the result")), "run_sync gave {:?}", out.value);
    let busy = m.call(c.actor("scripted").start().input(json!({"sleep": 60}))).step("start")?;
    let refused = m.call(c.actor("scripted").start());
    match refused {
        Err(Error::Api(e)) => ensure!(
            e.status == 402 && e.error_type.as_ref().is_some_and(|t| t.as_str() == "concurrent-runs-limit-exceeded"),
            "refused with {} {:?}",
            e.status,
            e.error_type
        ),
        other => return Err(format!("a start past the limit gave {other:?}")),
    }
    m.call(c.run(&busy.id).abort()).step("abort")?;
    let next = m.call(c.actor("scripted").call()).step("a start once the slot is free")?.ok_or("no run")?;
    ensure!(next.status == ActorJobStatus::Succeeded, "ended as {}", next.status);
    Ok(())
}

/// Polls the run's log until it contains `needle`.
fn wait_for_log<D: Environment, M: Mode<D>>(m: &M, c: &ApifyClient<D>, run_id: &str, needle: &str) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = m.call(c.run(run_id).log().get()).step("log")?.unwrap_or_default();
        if log.contains(needle) {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "the log never had {needle:?}: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metamorph_reboot_resurrect<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let l = local(t, |_| {});
    let c = &l.client;
    let m = &t.mode;
    // Metamorph: the same run goes on as `other`, with the new input.
    let run = m.call(c.actor("scripted").start().input(json!({"print": ["first"], "sleep": 60}))).step("start")?;
    wait_for_log(m, c, &run.id, "first")?;
    let morphed =
        m.call(c.run(&run.id).metamorph("other").input(json!({"print": ["second"], "items": 1}))).step("metamorph")?;
    let other = m.call(c.actor("other").get()).step("get other")?.ok_or("no Actor other")?;
    ensure!(morphed.act_id == other.id, "after a metamorph the run's Actor is {}", morphed.act_id);
    let done = m.call(c.run(&run.id).wait_for_finish(None)).step("wait")?.ok_or("no run")?;
    ensure!(done.status == ActorJobStatus::Succeeded, "the metamorphed run ended as {}", done.status);
    let morphs = done.metamorphs.unwrap_or_default();
    ensure!(
        morphs.len() == 1
            && morphs[0].actor_id == other.id
            && morphs[0].input_key.as_deref() == Some("INPUT-METAMORPH-1"),
        "metamorphs {morphs:?}"
    );
    let items = m.call(c.run(&run.id).dataset().list_items()).step("items")?;
    ensure!(items.items.len() == 1, "the second Actor pushed {} items", items.items.len());
    let log = m.call(c.run(&run.id).log().get()).step("log")?.unwrap_or_default();
    ensure!(log.contains("first") && log.contains("metamorphing into Actor other") && log.contains("second"), "{log}");

    // Reboot: the command starts again in the same run.
    let run = m.call(c.actor("scripted").start().input(json!({"print": ["booted"], "sleep": 60}))).step("start")?;
    wait_for_log(m, c, &run.id, "booted")?;
    let rebooted = m.call(c.run(&run.id).reboot()).step("reboot")?;
    ensure!(rebooted.stats.reboot_count == Some(1), "rebootCount {:?}", rebooted.stats.reboot_count);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = m.call(c.run(&run.id).log().get()).step("log")?.unwrap_or_default();
        if log.matches("booted").count() == 2 {
            break;
        }
        ensure!(Instant::now() < deadline, "the rebooted command did not start again: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let aborted = m.call(c.run(&run.id).abort()).step("abort")?;
    ensure!(aborted.status == ActorJobStatus::Aborted, "abort gave {}", aborted.status);

    // Resurrect: a failed run runs again with its storages, and its state carries over.
    let failed =
        m.call(c.actor("scripted").call().input(json!({"succeed_on_attempt": 2}))).step("call")?.ok_or("no run")?;
    ensure!(failed.status == ActorJobStatus::Failed && failed.exit_code == Some(7), "first attempt {}", failed.status);
    let again = m.call(c.run(&failed.id).resurrect()).step("resurrect")?;
    ensure!(again.finished_at.is_none(), "resurrect returned a finished run: {}", again.status);
    let done = m.call(c.run(&failed.id).wait_for_finish(None)).step("wait")?.ok_or("no run")?;
    ensure!(
        done.status == ActorJobStatus::Succeeded,
        "the resurrected run ended as {} ({:?})",
        done.status,
        done.exit_code
    );
    ensure!(done.stats.resurrect_count == Some(1), "resurrectCount {:?}", done.stats.resurrect_count);
    let attempts =
        m.call(c.run(&failed.id).key_value_store().get_record("ATTEMPTS")).step("ATTEMPTS")?.ok_or("no ATTEMPTS")?;
    ensure!(attempts.value == RecordValue::Json(json!(2)), "ATTEMPTS {:?}", attempts.value);
    Ok(())
}

fn tasks<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let l = local(t, |_| {});
    let c = &l.client;
    let m = &t.mode;
    let input = json!({"items": 2, "output": "from the task", "print": ["task line"]});
    let task = m
        .call(c.tasks().create("scripted", "my-task").task_input(input).memory_mbytes(256u64).title("Mine"))
        .step("create a task")?;
    ensure!(task.name == "my-task" && task.title.as_deref() == Some("Mine"), "created {task:?}");
    let again = m.call(c.tasks().create("scripted", "my-task"));
    ensure!(matches!(&again, Err(Error::Api(e)) if e.status == 409), "a second my-task gave {again:?}");
    let by_name = m.call(c.task("local/my-task").get()).step("get by username/name")?.ok_or("no task by name")?;
    ensure!(by_name.id == task.id, "by name: {by_name:?}");
    // The run's input is the task's with the fields given laid over it.
    let run = m.call(c.task(&task.id).call().input(json!({"items": 3}))).step("call the task")?.ok_or("no run")?;
    ensure!(run.status == ActorJobStatus::Succeeded, "ended as {} (exit {:?})", run.status, run.exit_code);
    ensure!(run.actor_task_id.as_deref() == Some(task.id.as_str()), "actorTaskId {:?}", run.actor_task_id);
    ensure!(run.options.memory_mbytes == 256, "options {:?}", run.options);
    let stored = m.call(c.run(&run.id).key_value_store().get_record("INPUT")).step("INPUT")?.ok_or("no INPUT")?;
    let merged = json!({"items": 3, "output": "from the task", "print": ["task line"]});
    ensure!(stored.value == RecordValue::Json(merged), "merged input {:?}", stored.value);
    let items = m.call(c.run(&run.id).dataset().list_items()).step("the run's dataset")?;
    ensure!(items.items.len() == 3, "{} items", items.items.len());
    // The task's last run, its runs, its run-sync.
    let last = c.task(&task.id).last_run().status(ActorJobStatus::Succeeded);
    let last_id = m.call(last.get()).step("the task's last run")?.ok_or("no last run")?.id;
    ensure!(last_id == run.id, "last run {last_id} is not {}", run.id);
    let output =
        m.call(last.key_value_store().get_record("OUTPUT")).step("the last run's OUTPUT")?.ok_or("no OUTPUT")?;
    ensure!(output.value == RecordValue::Json(json!("from the task")), "OUTPUT {:?}", output.value);
    let out = m.call(c.task(&task.id).run_sync().input(json!({"output": 7}))).step("run_sync of the task")?;
    ensure!(out.value == RecordValue::Json(json!(7)), "run_sync gave {:?}", out.value);
    let runs = m.call(c.task(&task.id).runs().list()).step("the task's runs")?;
    ensure!(runs.total == 2, "{} runs of the task", runs.total);
    let actor_runs = m.call(c.actor("scripted").runs().list()).step("the Actor's runs")?;
    ensure!(actor_runs.total == 2, "{} runs of the Actor", actor_runs.total);
    // Input and options change field by field.
    let changed = m.call(c.task(&task.id).update_input(json!({"items": 0}))).step("update the input")?;
    ensure!(changed["items"] == 0 && changed["output"] == "from the task", "input now {changed}");
    let updated = m.call(c.task(&task.id).update().run_timeout(Duration::from_secs(30))).step("update the options")?;
    let options = updated.options.clone().unwrap_or_default();
    ensure!(options.memory_mbytes == Some(256) && options.timeout_secs == Some(30), "options now {options:?}");
    let bad = m.call(c.task(&task.id).update().memory_mbytes(100u64));
    ensure!(matches!(&bad, Err(Error::Api(e)) if e.status == 400), "memory 100 gave {bad:?}");
    let listed = m.call(c.tasks().list()).step("list tasks")?;
    ensure!(listed.total == 1 && listed.items[0].act_name.as_deref() == Some("scripted"), "tasks {:?}", listed.items);
    m.call(c.task(&task.id).delete()).step("delete the task")?;
    let gone = m.call(c.task(&task.id).get()).step("get the deleted task")?;
    ensure!(gone.is_none(), "the task is still there: {gone:?}");
    let kept = m.call(c.run(&run.id).get()).step("a deleted task's run")?;
    ensure!(kept.is_some(), "the task's run went with it");
    Ok(())
}

/// Waits until the receiver has `n` requests.
fn received(receiver: &ScriptedServer, n: usize) -> Result<Vec<RecordedRequest>, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = receiver.requests();
        if got.len() >= n {
            return Ok(got);
        }
        ensure!(Instant::now() < deadline, "the receiver got {} of {n} calls: {got:?}", got.len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn webhooks<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let l = local(t, |o| o.webhook_retries = WebhookRetries { first_wait: Duration::from_millis(50), max_retries: 2 });
    let c = &l.client;
    let m = &t.mode;
    let receiver = ScriptedServer::start();
    // The first call of /hook fails; the retry is answered.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    receiver.route(http::Method::POST, "/hook", move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::status(500)
        } else {
            Reply::json(200, json!({"ok": true}))
        }
    });
    receiver.set_fallback(|_| Reply::text(200, "thanks"));
    let template =
        r#"{"run": {{resource.id}}, "note": "dataset {{resource.defaultDatasetId}}", "event": {{eventType}}}"#;
    let hook = m
        .call(
            c.webhooks()
                .create(["ACTOR.RUN.SUCCEEDED"], &receiver.url("/hook?secret=s1"))
                .actor_id("scripted")
                .payload_template(template)
                .should_interpolate_strings(true)
                .headers_template(r#"{"X-Secret": "s2", "Content-Type": "application/json"}"#),
        )
        .step("create a webhook")?;
    let refused = m.call(c.webhooks().create(["ACTOR.RUN.SUCCEEDED"], "http://example.com/hook").actor_id("scripted"));
    ensure!(
        matches!(&refused, Err(Error::Api(e)) if e.status == 400 && e.message.contains("loopback")),
        "a webhook to example.com gave {refused:?}"
    );
    let run = m.call(c.actor("scripted").call().input(json!({"items": 1}))).step("a run")?.ok_or("no run")?;
    let ad_hoc = json!({"eventTypes": ["ACTOR.RUN.FAILED"], "requestUrl": receiver.url("/ad-hoc")});
    let failed = m
        .call(c.actor("scripted").call().input(json!({"exit": 3})).webhooks(&[ad_hoc]))
        .step("a failing run with an ad-hoc webhook")?
        .ok_or("no run")?;
    ensure!(failed.status == ActorJobStatus::Failed, "the failing run ended {}", failed.status);
    let got = received(&receiver, 3)?;
    let hook_calls: Vec<&RecordedRequest> = got.iter().filter(|r| r.path() == "/hook").collect();
    ensure!(hook_calls.len() == 2, "calls of /hook: {hook_calls:?}");
    for r in &hook_calls {
        ensure!(r.query_param("secret").as_deref() == Some("s1"), "the query is kept: {:?}", r.uri);
        ensure!(r.header("x-secret") == Some("s2"), "the headers template is sent: {:?}", r.headers);
        let types: Vec<_> = r.headers.get_all("content-type").iter().collect();
        ensure!(types == ["application/json"], "the template's Content-Type replaces the default: {types:?}");
        ensure!(r.header("x-apify-webhook") == Some(hook.id.as_str()), "X-Apify-Webhook: {:?}", r.headers);
        let expected = json!({"run": run.id, "note": format!("dataset {}", run.default_dataset_id), "event": "ACTOR.RUN.SUCCEEDED"});
        ensure!(r.json() == expected, "the payload {} is not {expected}", r.json());
    }
    let adhoc = got.iter().find(|r| r.path() == "/ad-hoc").ok_or("no call of the ad-hoc webhook")?;
    let body = adhoc.json();
    ensure!(body["eventType"] == "ACTOR.RUN.FAILED", "ad-hoc payload {body}");
    ensure!(body["eventData"]["actorRunId"] == failed.id.as_str(), "ad-hoc eventData {}", body["eventData"]);
    ensure!(
        body["resource"]["status"] == "FAILED" && body["resource"]["exitCode"] == 3,
        "resource {}",
        body["resource"]
    );
    ensure!(body["userId"].is_string() && body["createdAt"].is_string(), "the default payload: {body}");
    // The dispatch of /hook: two calls, the first one failed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let dispatch = loop {
        let page = m.call(c.webhook(&hook.id).dispatches().list()).step("the webhook's dispatches")?;
        let d = page.items.first().cloned().ok_or("no dispatch")?;
        if d.calls.as_ref().is_some_and(|c| c.len() == 2) || Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let calls = dispatch.calls.clone().unwrap_or_default();
    ensure!(calls.len() == 2, "calls {calls:?}");
    ensure!(calls[0].response_status == Some(500) && calls[1].response_status == Some(200), "calls {calls:?}");
    ensure!(serde_json::to_value(&dispatch.status).ok() == Some(json!("SUCCEEDED")), "dispatch {:?}", dispatch.status);
    let one = m.call(c.webhook_dispatch(&dispatch.id).get()).step("the dispatch")?.ok_or("no dispatch")?;
    ensure!(one.webhook_id == hook.id, "dispatch of {}", one.webhook_id);
    // A test call, the lists, and a deleted webhook fires no more.
    let test = m.call(c.webhook(&hook.id).test()).step("test the webhook")?;
    ensure!(serde_json::to_value(&test.event_type).ok() == Some(json!("TEST")), "test dispatch {test:?}");
    let got = received(&receiver, 4)?;
    ensure!(got[3].json()["event"] == "TEST", "the test call: {}", got[3].json());
    let all = m.call(c.webhook_dispatches().list()).step("every dispatch")?;
    ensure!(all.total == 3, "{} dispatches", all.total);
    let of_actor = m.call(c.actor("scripted").webhooks().list()).step("the Actor's webhooks")?;
    ensure!(
        of_actor.items.iter().map(|w| w.id.as_str()).collect::<Vec<_>>() == [hook.id.as_str()],
        "{:?}",
        of_actor.items
    );
    let listed = m.call(c.webhook(&hook.id).get()).step("get the webhook")?.ok_or("no webhook")?;
    ensure!(listed.stats.as_ref().and_then(|s| s.total_dispatches) == Some(2), "stats {:?}", listed.stats);
    m.call(c.webhook(&hook.id).delete()).step("delete the webhook")?;
    m.call(c.actor("scripted").call()).step("a run after the delete")?;
    std::thread::sleep(Duration::from_millis(200));
    ensure!(receiver.request_count() == 4, "a deleted webhook was called: {:?}", receiver.requests());
    Ok(())
}

fn created_actor<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let l = local(t, |_| {});
    let c = &l.client;
    let m = &t.mode;
    let main = "import os\nprint('hello', os.environ.get('GREETING'), os.path.basename(os.getcwd()), flush=True)\n";
    let version = |number: &str, text: &str| {
        json!({"versionNumber": number, "sourceType": "SOURCE_FILES", "buildTag": "latest",
               "envVars": [{"name": "GREETING", "value": text}],
               "sourceFiles": [{"name": "main.py", "format": "TEXT", "content": main},
                               {"name": "Dockerfile", "format": "TEXT", "content": "FROM apify/actor-python\nCMD [\"python3\", \"main.py\"]\n"}]})
    };
    let made = m
        .call(c.actors().create("made").title("Made here").versions([version("0.1", "world")]))
        .step("create an Actor")?;
    ensure!(made.name == "made" && made.title.as_deref() == Some("Made here"), "created {made:?}");
    let run = m.call(c.actor("made").call()).step("call the created Actor")?.ok_or("no run")?;
    ensure!(run.status == ActorJobStatus::Succeeded, "ended as {} (exit {:?})", run.status, run.exit_code);
    let log = m.call(c.run(&run.id).log().get()).step("its log")?.unwrap_or_default();
    ensure!(
        log.contains("hello world 0.1"),
        "the Dockerfile's CMD ran in the version's folder with its env vars: {log}"
    );
    // An env var changed through its own route, a new version: the next run uses them.
    m.call(c.actor("made").version("0.1").env_var("GREETING").update("GREETING", "there"))
        .step("update the env var")?;
    let run = m.call(c.actor("made").call()).step("call again")?.ok_or("no run")?;
    let log = m.call(c.run(&run.id).log().get()).step("its log")?.unwrap_or_default();
    ensure!(log.contains("hello there 0.1"), "the changed env var: {log}");
    let mut v2 = version("0.2", "two");
    v2["buildTag"] = json!("latest");
    m.call(c.actor("made").version("0.1").update().build_tag("old")).step("retag 0.1")?;
    m.call(
        c.actor("made").update().versions([
            m.call(c.actor("made").version("0.1").get())
                .step("get 0.1")?
                .map(|v| serde_json::to_value(v).unwrap_or_default())
                .ok_or("no 0.1")?,
            v2,
        ]),
    )
    .step("add version 0.2")?;
    let versions = m.call(c.actor("made").versions().list()).step("versions")?;
    ensure!(versions.items.len() == 2, "versions {:?}", versions.items);
    m.call(c.actor("made").version("0.2").env_vars().create("KEY", "s3cr3t").is_secret(true)).step("a secret")?;
    let shown = m.call(c.actor("made").get()).step("get the Actor")?.ok_or("no Actor")?;
    let shown = serde_json::to_string(&shown).unwrap_or_default();
    ensure!(shown.contains("KEY") && !shown.contains("s3cr3t"), "a secret's value is not shown: {shown}");
    let run = m.call(c.actor("made").call()).step("call 0.2")?.ok_or("no run")?;
    let log = m.call(c.run(&run.id).log().get()).step("its log")?.unwrap_or_default();
    ensure!(log.contains("hello two 0.2"), "the latest version runs: {log}");
    // What cannot be: a second "made", a GIT_REPO version, changing a declared Actor.
    let twice = m.call(c.actors().create("made"));
    ensure!(matches!(&twice, Err(Error::Api(e)) if e.status == 409), "a second made gave {twice:?}");
    let git = json!({"versionNumber": "0.1", "sourceType": "GIT_REPO", "gitRepoUrl": "https://example.com/x.git"});
    let refused = m.call(c.actors().create("from-git").versions([git]));
    ensure!(
        matches!(&refused, Err(Error::Api(e)) if e.status == 400 && e.message.contains("SOURCE_FILES")),
        "GIT_REPO gave {refused:?}"
    );
    let declared = m.call(c.actor("scripted").update().title("no"));
    ensure!(
        matches!(&declared, Err(Error::Api(e)) if e.status == 400 && e.message.contains("declared")),
        "{declared:?}"
    );
    let listed = m.call(c.actors().list()).step("list Actors")?;
    ensure!(listed.items.iter().any(|a| a.name == "made") && listed.total == 3, "Actors {:?}", listed.items);
    m.call(c.actor("made").delete()).step("delete the created Actor")?;
    ensure!(m.call(c.actor("made").get()).step("get it")?.is_none(), "the deleted Actor is still there");
    Ok(())
}
