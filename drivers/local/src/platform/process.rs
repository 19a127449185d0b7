//! Running a local Actor's command: the process group, its environment, its output into
//! the log, and stopping it (abort, timeout, shutdown) with SIGTERM then SIGKILL.
//!
//! The command runs under a small `sh` wrapper. The wrapper's standard input is a pipe
//! held by the emulator; a watchdog in the wrapper reads it, and when the emulator dies
//! (even by `kill -9`) the read ends and the watchdog kills the run's process group. So no
//! run outlives its emulator.

use std::collections::BTreeMap;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::logs::{LogWriter, Stream};
use super::runs::Status;
use super::{Control, LocalActor, Platform, RunHandle};

/// `$1` is the Actor's command. The watchdog (fd 3 = the emulator's pipe) is started
/// before TERM is ignored, so SIGTERM still ends it; the Actor gets the default signal
/// dispositions.
const WRAPPER: &str = r#"exec 3<&0
sh -c "$1" 3<&- </dev/null &
actor=$!
(read -r _ <&3; kill -KILL 0) &
watchdog=$!
exec 3<&-
trap '' TERM INT HUP
wait "$actor"
code=$?
kill "$watchdog" 2>/dev/null
exit "$code"
"#;

/// Prefixes of inherited variables that would describe another run or platform.
const FOREIGN_PREFIXES: [&str; 3] = ["APIFY_", "ACTOR_", "CRAWLEE_"];

/// Signals a whole process group; a group already gone is fine.
fn signal_group(pgid: i32, kill: bool) {
    #[cfg(unix)]
    {
        use rustix::process::{Pid, Signal, kill_process_group};
        if let Some(pid) = Pid::from_raw(pgid) {
            let _ = kill_process_group(pid, if kill { Signal::KILL } else { Signal::TERM });
        }
    }
    #[cfg(not(unix))]
    let _ = (pgid, kill);
}

/// Stops what a killed emulator may have left behind: the group is killed only when its
/// leader still carries this run's ID in its environment (a reused process ID is left alone).
pub(crate) fn kill_leftover(pgid: i32, run_id: &str) {
    let Ok(environ) = std::fs::read(format!("/proc/{pgid}/environ")) else { return };
    let marker = format!("ACTOR_RUN_ID={run_id}");
    if environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
        tracing::warn!(run_id, pgid, "killing the processes of a run left behind by an emulator that stopped");
        signal_group(pgid, true);
    }
}

fn exit_code(status: ExitStatus) -> i64 {
    if let Some(code) = status.code() {
        return i64::from(code);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + i64::from(sig);
        }
    }
    -1
}

/// The environment the platform gives an Actor.
/// `timeout_at` is when this run's process will be stopped (`ACTOR_TIMEOUT_AT`).
pub(crate) fn environment(
    platform: &Platform,
    run: &super::runs::RunRecord,
    actor_env: &BTreeMap<String, String>,
    timeout_at: Option<OffsetDateTime>,
) -> Vec<(String, String)> {
    let cfg = platform.api.config();
    let base = platform.base_url.clone();
    let token = cfg.token.clone().unwrap_or_else(|| "local-emulator-token".into());
    let timeout_at = timeout_at.map(crate::format::timestamp::format_api);
    let input_key = run.input_key.clone().unwrap_or_else(|| platform.api.storages().config().input_key.clone());
    let mut env: Vec<(String, String)> = vec![
        ("APIFY_IS_AT_HOME".into(), "1".into()),
        ("APIFY_API_BASE_URL".into(), base.clone()),
        ("APIFY_API_PUBLIC_BASE_URL".into(), base),
        ("APIFY_TOKEN".into(), token),
        ("APIFY_USER_ID".into(), cfg.user_id.clone()),
        ("ACTOR_ID".into(), run.act_id.clone()),
        ("ACTOR_FULL_NAME".into(), format!("{}/{}", cfg.username, run.actor_name)),
        ("ACTOR_RUN_ID".into(), run.id.clone()),
        ("ACTOR_BUILD_ID".into(), run.build_id.clone()),
        ("ACTOR_BUILD_NUMBER".into(), run.build_number.clone()),
        ("ACTOR_DEFAULT_DATASET_ID".into(), run.default_dataset_id.clone()),
        ("ACTOR_DEFAULT_KEY_VALUE_STORE_ID".into(), run.default_key_value_store_id.clone()),
        ("ACTOR_DEFAULT_REQUEST_QUEUE_ID".into(), run.default_request_queue_id.clone()),
        ("ACTOR_INPUT_KEY".into(), input_key),
        ("ACTOR_MEMORY_MBYTES".into(), run.memory_mbytes.to_string()),
        ("ACTOR_STARTED_AT".into(), run.started_at.clone()),
    ];
    if let Some(task) = &run.actor_task_id {
        env.push(("ACTOR_TASK_ID".into(), task.clone()));
    }
    if let Some(at) = timeout_at {
        env.push(("ACTOR_TIMEOUT_AT".into(), at));
    }
    if let Some(max) = run.max_total_charge_usd {
        env.push(("ACTOR_MAX_TOTAL_CHARGE_USD".into(), max.to_string()));
    }
    // The older names the SDKs still read.
    let aliases = [
        ("ACTOR_ID", ["APIFY_ACTOR_ID", "APIFY_ACT_ID"].as_slice()),
        ("ACTOR_RUN_ID", &["APIFY_ACTOR_RUN_ID", "APIFY_ACT_RUN_ID"]),
        ("ACTOR_BUILD_ID", &["APIFY_ACTOR_BUILD_ID"]),
        ("ACTOR_BUILD_NUMBER", &["APIFY_ACTOR_BUILD_NUMBER"]),
        ("ACTOR_TASK_ID", &["APIFY_ACTOR_TASK_ID"]),
        ("ACTOR_DEFAULT_DATASET_ID", &["APIFY_DEFAULT_DATASET_ID"]),
        ("ACTOR_DEFAULT_KEY_VALUE_STORE_ID", &["APIFY_DEFAULT_KEY_VALUE_STORE_ID"]),
        ("ACTOR_DEFAULT_REQUEST_QUEUE_ID", &["APIFY_DEFAULT_REQUEST_QUEUE_ID"]),
        ("ACTOR_INPUT_KEY", &["APIFY_INPUT_KEY"]),
        ("ACTOR_MEMORY_MBYTES", &["APIFY_MEMORY_MBYTES"]),
        ("ACTOR_STARTED_AT", &["APIFY_STARTED_AT"]),
        ("ACTOR_TIMEOUT_AT", &["APIFY_TIMEOUT_AT"]),
    ];
    let mut old = Vec::new();
    for (new, names) in aliases {
        if let Some((_, v)) = env.iter().find(|(k, _)| k == new) {
            old.extend(names.iter().map(|n| ((*n).to_owned(), v.clone())));
        }
    }
    env.extend(old);
    // The Actor's own variables come last and win, as version env vars do.
    env.extend(actor_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

fn command(platform: &Platform, actor: &LocalActor, env: &[(String, String)]) -> Command {
    let actor_command = actor.command.as_str();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(WRAPPER).arg("apify-local-run").arg(actor_command);
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && FOREIGN_PREFIXES.iter().any(|p| k.starts_with(p))
        {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd.current_dir(actor.workdir.as_ref().unwrap_or(&platform.options.workdir));
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    cmd.process_group(0);
    cmd
}

/// Copies one output stream into the log.
async fn pump(
    mut from: impl tokio::io::AsyncRead + Unpin,
    stream: Stream,
    log: Arc<Mutex<LogWriter>>,
    run: Arc<RunHandle>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = log.lock().unwrap_or_else(PoisonError::into_inner).flush(stream, OffsetDateTime::now_utc());
                run.bump();
                return;
            }
            Ok(n) => {
                let written = log.lock().unwrap_or_else(PoisonError::into_inner).write(
                    stream,
                    &buf[..n],
                    OffsetDateTime::now_utc(),
                );
                if let Err(e) = written {
                    tracing::error!(run_id = %run.id, error = %e, "writing the run's log failed");
                }
                run.bump();
            }
        }
    }
}

/// How the process ended, from the supervisor's point of view.
enum End {
    Exited(ExitStatus),
    Stopped {
        status: Status,
        exit: Option<ExitStatus>,
    },
    /// Stopped to run again in the same run: a reboot, or a metamorph into another Actor.
    Again,
}

/// SIGTERM to the group, then SIGKILL after `grace`; returns the wrapper's exit.
async fn stop(child: &mut Child, pgid: i32, grace: Duration) -> Option<ExitStatus> {
    signal_group(pgid, false);
    let exited = tokio::time::timeout(grace, child.wait()).await.ok().and_then(Result::ok);
    signal_group(pgid, true);
    match exited {
        Some(s) => Some(s),
        None => child.wait().await.ok(),
    }
}

/// Runs the Actor's process for `run` until it ends or is stopped, then records the end.
/// A reboot or a metamorph stops the process and starts the (new) Actor's command in the
/// same run, with the same log and storages.
pub(crate) async fn supervise(
    platform: Arc<Platform>,
    run: Arc<RunHandle>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let log_path = platform.run_dir(&run.id).join(super::runs::LOG_FILE);
    let log = match LogWriter::open(&log_path) {
        Ok(w) => Arc::new(Mutex::new(w)),
        Err(e) => {
            platform
                .finish(&run, Status::Failed, None, Some(format!("The run's log could not be opened: {e}")), 0)
                .await;
            return;
        }
    };
    let system = |line: &str| {
        let _ = log.lock().unwrap_or_else(PoisonError::into_inner).system_line(line, OffsetDateTime::now_utc());
        run.bump();
    };
    let started = Instant::now();
    let timeout_secs = run.record().timeout_secs;
    // Counted from this start, so a resurrected run gets its whole timeout again. A timeout
    // too large to represent is no timeout (never a panic on overflow).
    let deadline = (timeout_secs > 0)
        .then(|| tokio::time::Instant::now().checked_add(Duration::from_secs(timeout_secs)))
        .flatten();
    let timeout_at = (timeout_secs > 0)
        .then(|| {
            let secs = i64::try_from(timeout_secs).ok()?;
            OffsetDateTime::now_utc().checked_add(time::Duration::seconds(secs))
        })
        .flatten();
    let (status, code) = loop {
        let record = run.record();
        let Some(actor) = platform.actor_by_id(&record.act_id) else {
            let message = format!("Actor {} is not declared in this emulator any more.", record.actor_name);
            system(&message);
            platform.finish(&run, Status::Failed, None, Some(message), started.elapsed().as_millis() as u64).await;
            return;
        };
        if actor.command.is_empty() {
            let message = format!("Actor {} has no version the local platform can run.", actor.name);
            system(&message);
            platform.finish(&run, Status::Failed, None, Some(message), started.elapsed().as_millis() as u64).await;
            return;
        }
        let env = environment(&platform, &record, &actor.env, timeout_at);
        let mut child = match command(&platform, &actor, &env).spawn() {
            Ok(c) => c,
            Err(e) => {
                let message = format!("The Actor's command could not be started: {e}");
                system(&message);
                platform.finish(&run, Status::Failed, None, Some(message), started.elapsed().as_millis() as u64).await;
                return;
            }
        };
        let pgid = child.id().and_then(|id| i32::try_from(id).ok()).unwrap_or(0);
        // Held until the end: closing it is what tells the watchdog to kill the group.
        let keep_alive = child.stdin.take();
        // Recorded before any output is read, so a log line seen by a client implies a
        // record that is RUNNING and names the process group.
        platform
            .update(&run, |r| {
                r.status = Status::Running;
                r.process_group = Some(pgid);
            })
            .await;
        let mut pumps = tokio::task::JoinSet::new();
        if let Some(out) = child.stdout.take() {
            pumps.spawn(pump(out, Stream::Stdout, log.clone(), run.clone()));
        }
        if let Some(err) = child.stderr.take() {
            pumps.spawn(pump(err, Stream::Stderr, log.clone(), run.clone()));
        }
        let mut next: Option<Control> = None;
        let end = tokio::select! {
            status = child.wait() => match status {
                Ok(s) => End::Exited(s),
                Err(e) => {
                    tracing::error!(run_id = %run.id, error = %e, "waiting for the run's process failed");
                    End::Stopped { status: Status::Failed, exit: None }
                }
            },
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                system(&format!("The Actor run has reached the timeout of {timeout_secs} seconds and will be stopped."));
                platform.update(&run, |r| r.status = Status::TimingOut).await;
                let exit = stop(&mut child, pgid, platform.options.kill_grace).await;
                End::Stopped { status: Status::TimedOut, exit }
            }
            Some(c) = control.recv() => {
                let (grace, line) = match &c {
                    Control::Abort { graceful: true } => (platform.options.graceful_abort_grace, "The run was aborted gracefully.".to_owned()),
                    Control::Abort { graceful: false } => (platform.options.kill_grace, "The run was aborted.".to_owned()),
                    Control::Shutdown => (platform.options.kill_grace, "The run was aborted: the emulator is shutting down.".to_owned()),
                    Control::Reboot => (platform.options.kill_grace, "The run is rebooting.".to_owned()),
                    Control::Metamorph { target, .. } => (platform.options.kill_grace, format!("The run is metamorphing into Actor {}.", target.name)),
                };
                system(&line);
                match c {
                    Control::Abort { .. } | Control::Shutdown => {
                        platform.update(&run, |r| r.status = Status::Aborting).await;
                        let exit = stop(&mut child, pgid, grace).await;
                        End::Stopped { status: Status::Aborted, exit }
                    }
                    again => {
                        stop(&mut child, pgid, grace).await;
                        next = Some(again);
                        End::Again
                    }
                }
            }
        };
        // Whatever the Actor left running in its group goes with it.
        signal_group(pgid, true);
        drop(keep_alive);
        // The pipes close once the group is gone; one that a detached grandchild keeps open
        // does not hold the run.
        let drained =
            tokio::time::timeout(Duration::from_secs(2), async { while pumps.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            pumps.abort_all();
        }
        match (end, next) {
            (End::Exited(s), _) => {
                break (if s.success() { Status::Succeeded } else { Status::Failed }, Some(exit_code(s)));
            }
            (End::Stopped { status, exit }, _) => break (status, exit.map(exit_code)),
            (End::Again, Some(Control::Metamorph { target, input_key })) => {
                let now = crate::format::timestamp::format_api(OffsetDateTime::now_utc());
                platform
                    .update(&run, |r| {
                        r.metamorphs.push(super::runs::MetamorphRecord {
                            created_at: now,
                            actor_id: target.id.clone(),
                            build_id: target.build_id(),
                            input_key: input_key.clone(),
                        });
                        r.act_id = target.id.clone();
                        r.actor_name = target.name.clone();
                        r.build_id = target.build_id();
                        r.input_key = Some(input_key);
                    })
                    .await;
            }
            (End::Again, _) => platform.update(&run, |r| r.reboot_count += 1).await,
        }
    };
    if status == Status::Failed
        && let Some(c) = code
    {
        system(&format!("The Actor process exited with code {c}."));
    }
    platform.finish(&run, status, code, None, started.elapsed().as_millis() as u64).await;
}
