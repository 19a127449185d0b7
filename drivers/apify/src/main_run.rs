//! `Actor::main`: the run's whole life, as `async with Actor:` in Python. The Actor's code
//! runs; an error or a panic ends the run as failed with its message as the final status
//! message; before `ACTOR_TIMEOUT_AT` a warning is logged and the `use_state` values are
//! saved, so a run the platform stops at its timeout keeps its progress.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use time::OffsetDateTime;

use crate::actor::Actor;
use crate::env::ActorEnv;
use crate::error::Result;

/// How long before the timeout the state is saved: 10 s, or half of what is left.
fn margin(left: Duration) -> Duration {
    (left / 2).min(Duration::from_secs(10))
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the Actor panicked".into())
}

impl Actor {
    /// Starts the Actor ([`Actor::init`]), runs `body`, and ends the process: exit code 0
    /// after [`Actor::exit`] when `body` succeeds; when it fails or panics, exit code 1 with
    /// the error or panic message as the terminal status message (what the caller sees as
    /// `FAILED` and `statusMessage`).
    ///
    /// ```no_run
    /// #[tokio::main]
    /// async fn main() {
    ///     apify::Actor::main(|actor| async move {
    ///         actor.push_data(&serde_json::json!({"ok": true})).await?;
    ///         Ok(())
    ///     })
    ///     .await
    /// }
    /// ```
    pub async fn main<F, Fut>(body: F) -> !
    where
        F: FnOnce(Self) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let actor = match Self::init().await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("the Actor could not start: {e}");
                std::process::exit(1)
            }
        };
        let watch = actor.clone();
        let timeout_at = ActorEnv::from_vars(std::env::vars()).timeout_at;
        let guard = async move {
            let Some(at) = timeout_at else { return std::future::pending().await };
            let left = Duration::try_from(at - OffsetDateTime::now_utc()).unwrap_or_default();
            tokio::time::sleep(left.saturating_sub(margin(left))).await;
            tracing::warn!(timeout_at = %at, "the run is about to reach its timeout; saving the state");
            if let Err(e) = watch.persist_states().await {
                tracing::error!(error = %e, "saving the state before the timeout failed");
            }
            std::future::pending::<()>().await
        };
        let outcome = tokio::select! {
            r = AssertUnwindSafe(body(actor.clone())).catch_unwind() => r,
            () = guard => unreachable!("the timeout guard never ends"),
        };
        match outcome {
            Ok(Ok(())) => actor.exit_process(0, None).await,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the Actor failed");
                actor.fail(1, &e.to_string()).await
            }
            Err(panic) => {
                let message = panic_message(&*panic);
                tracing::error!(panic = %message, "the Actor panicked");
                actor.fail(1, &message).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_saved_ahead_of_the_timeout() {
        assert_eq!(margin(Duration::from_secs(600)), Duration::from_secs(10));
        assert_eq!(margin(Duration::from_secs(4)), Duration::from_secs(2));
        assert_eq!(margin(Duration::ZERO), Duration::ZERO);
        let p: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(panic_message(&*p), "boom");
        let p: Box<dyn std::any::Any + Send> = Box::new(String::from("formatted 1"));
        assert_eq!(panic_message(&*p), "formatted 1");
    }
}
