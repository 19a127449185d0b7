//! What an Actor does on the platform beyond its storages: calling other Actors and tasks,
//! its own run (status message, metamorph, reboot, ad-hoc webhooks) and how it ends. The
//! names are the Python SDK's; each method only picks the client call and returns its
//! builder, so every option of the API client is there (`.input(..)`, `.memory_mbytes(..)`,
//! `.webhooks(..)`, ...).

use apify_core::client::{ApifyClient, CallBuilder};
use apify_core::config::Config;
use apify_core::models::{Run, WebhookEventType};
use apify_core::ops::api::ApiOp;
use apify_core::ops::kinds::{AbortRun, CreateWebhook, Metamorph, Reboot, RunCall, RunStart, UpdateRun};
use apify_hyper::HyperClient;

use crate::actor::Actor;
use crate::error::{Error, Result};

/// The API client of the Actor's runs and calls.
pub type PlatformClient = ApifyClient<HyperClient>;

impl Actor {
    /// An API client with the Actor's token and API base URL (`APIFY_TOKEN`,
    /// `APIFY_API_BASE_URL`); on the local platform of `apify-local` that is the emulator.
    pub fn new_client(&self) -> Result<PlatformClient> {
        let c = self.config();
        let mut cfg = Config::new()
            .with_api_url(&c.api_base_url)?
            .with_api_public_url(&c.api_public_base_url)?
            .with_is_at_home(c.is_at_home)
            .with_max_retries(8);
        if let Some(token) = &c.token {
            cfg = cfg.with_token(token.clone());
        }
        Ok(ApifyClient::with_custom_http_client(cfg, HyperClient::new()))
    }

    /// Starts Actor `actor_id` and waits for its run to finish (`.input(..)`, `.build(..)`,
    /// `.memory_mbytes(..)`, `.wait(..)`, ...).
    pub fn call(&self, actor_id: &str) -> Result<CallBuilder<HyperClient, ApiOp<RunCall>>> {
        Ok(self.new_client()?.actor(actor_id).call())
    }

    /// Runs task `task_id` and waits for it to finish.
    pub fn call_task(&self, task_id: &str) -> Result<CallBuilder<HyperClient, ApiOp<RunCall>>> {
        Ok(self.new_client()?.task(task_id).call())
    }

    /// Starts Actor `actor_id` without waiting.
    pub fn start(&self, actor_id: &str) -> Result<CallBuilder<HyperClient, ApiOp<RunStart>>> {
        Ok(self.new_client()?.actor(actor_id).start())
    }

    /// Aborts run `run_id` (`.gracefully(true)` lets it wind down).
    pub fn abort(&self, run_id: &str) -> Result<CallBuilder<HyperClient, ApiOp<AbortRun>>> {
        Ok(self.new_client()?.run(run_id).abort())
    }

    /// The ID of this run, which only a run on the platform has.
    fn own_run_id(&self, what: &str) -> Result<String> {
        match (&self.config().actor_run_id, self.is_at_home()) {
            (Some(id), true) => Ok(id.clone()),
            _ => Err(Error::NotOnPlatform(what.to_owned())),
        }
    }

    /// Continues this run as Actor `target` (`.input(..)`, `.build(..)`); the platform then
    /// stops this process. Only on the platform: locally it is [`Error::NotOnPlatform`].
    pub fn metamorph(&self, target: &str) -> Result<CallBuilder<HyperClient, ApiOp<Metamorph>>> {
        let id = self.own_run_id("metamorph")?;
        Ok(self.new_client()?.run(&id).metamorph(target))
    }

    /// Restarts this run's process. Only on the platform.
    pub fn reboot(&self) -> Result<CallBuilder<HyperClient, ApiOp<Reboot>>> {
        let id = self.own_run_id("reboot")?;
        Ok(self.new_client()?.run(&id).reboot())
    }

    /// Adds an ad-hoc webhook to this run (`.payload_template(..)`, `.idempotency_key(..)`).
    /// Only on the platform: locally the Python SDK warns and does nothing; here it is
    /// [`Error::NotOnPlatform`], which the caller may ignore.
    pub fn add_webhook<I, E>(
        &self,
        event_types: I,
        request_url: &str,
    ) -> Result<CallBuilder<HyperClient, ApiOp<CreateWebhook>>>
    where
        I: IntoIterator<Item = E>,
        E: Into<WebhookEventType>,
    {
        let id = self.own_run_id("add_webhook")?;
        Ok(self.new_client()?.webhooks().create(event_types, request_url).actor_run_id(id).is_ad_hoc(true))
    }

    /// Sets this run's status message (`is_terminal`: the last one). Locally it is logged and
    /// `None` is returned, as in the Python SDK.
    pub async fn set_status_message(&self, message: &str, is_terminal: bool) -> Result<Option<Run>> {
        let Ok(id) = self.own_run_id("set_status_message") else {
            tracing::info!(status_message = message, is_terminal, "status message (not on the platform)");
            return Ok(None);
        };
        let update: CallBuilder<HyperClient, ApiOp<UpdateRun>> = self.new_client()?.run(&id).update();
        let mut update = update.status_message(message);
        if is_terminal {
            update = update.is_status_message_terminal(true);
        }
        Ok(Some(update.await?))
    }

    /// Ends the run as failed: sets `message` as the terminal status message, flushes the
    /// storages and exits the process with `exit_code` (1 if 0 is given), as the Python
    /// SDK's `Actor.fail`.
    pub async fn fail(&self, exit_code: i32, message: &str) -> ! {
        let code = if exit_code == 0 { 1 } else { exit_code };
        self.finish_and_exit(code, Some(message)).await
    }

    /// Ends the run: sets `status_message` (if any) as the terminal status message,
    /// flushes the storages and exits the process with `exit_code`.
    pub async fn exit_process(&self, exit_code: i32, status_message: Option<&str>) -> ! {
        self.finish_and_exit(exit_code, status_message).await
    }

    async fn finish_and_exit(&self, code: i32, message: Option<&str>) -> ! {
        if let Some(m) = message
            && let Err(e) = self.set_status_message(m, true).await
        {
            tracing::error!(error = %e, "setting the final status message failed");
        }
        if let Err(e) = self.exit().await {
            tracing::error!(error = %e, "flushing the storages failed");
        }
        std::process::exit(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Configuration;

    #[tokio::test]
    async fn what_needs_a_run_is_a_clear_error_locally() {
        let dir = tempfile::tempdir().unwrap();
        let config = Configuration { storage_dir: dir.path().join("storage"), ..Configuration::default() };
        let actor = Actor::with_config(config).await.unwrap();
        for (what, got) in [
            ("metamorph", actor.metamorph("other").map(|_| ())),
            ("reboot", actor.reboot().map(|_| ())),
            ("add_webhook", actor.add_webhook(["ACTOR.RUN.SUCCEEDED"], "http://127.0.0.1:1/").map(|_| ())),
        ] {
            match got {
                Err(Error::NotOnPlatform(w)) => assert_eq!(w, what),
                other => panic!("{what} locally gave {other:?}"),
            }
        }
        // Locally a status message is only logged.
        assert!(actor.set_status_message("working", false).await.unwrap().is_none());
        // Calls need no run: they build a request for the configured API.
        assert!(actor.call("someone/some-actor").is_ok());
    }
}
