//! An Actor that runs other Actors: it calls `target` with `targetInput`, reads the called
//! run's dataset, reports through its status message, and can metamorph into another
//! Actor, charge pay-per-event, keep state, fail or panic. On the local platform of
//! `apify-local` everything it calls runs on the machine.
//!
//! Input (all optional): `{"target": "NAME", "targetInput": {...}, "webhook": "URL",
//! "metamorphTo": "NAME", "charge": {"event": "NAME", "count": N}, "failWith": "MESSAGE",
//! "attemptsUntilSuccess": N}` (the last fails until the run's `use_state` has counted N
//! attempts, so a resurrected run succeeds), `"panic": "MESSAGE"`, and `"progress": N,
//! "sleepSecs": S` (stores N in its state, then sleeps: a timeout keeps the progress).

use apify::{Actor, Error};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_target(false).init();
    Actor::main(run).await
}

async fn run(actor: Actor) -> Result<(), Error> {
    let input: Value = actor.get_input().await?.unwrap_or_default();
    if let Some(needed) = input["attemptsUntilSuccess"].as_u64() {
        // Kept in the run's store: a resurrected run goes on counting.
        let state = actor.use_state(json!({"attempts": 0})).await?;
        let attempts = {
            let mut s = state.lock();
            let n = s["attempts"].as_u64().unwrap_or(0) + 1;
            s["attempts"] = json!(n);
            n
        };
        if attempts < needed {
            actor.fail(7, &format!("attempt {attempts} of {needed}")).await;
        }
    }
    if let Some(message) = input["panic"].as_str() {
        panic!("{message}");
    }
    if let Some(progress) = input["progress"].as_u64() {
        let state = actor.use_state(json!({"progress": 0})).await?;
        state.lock()["progress"] = json!(progress);
        tokio::time::sleep(std::time::Duration::from_secs(input["sleepSecs"].as_u64().unwrap_or(0))).await;
    }
    if let Some(url) = input["webhook"].as_str() {
        actor.add_webhook(["ACTOR.RUN.SUCCEEDED"], url)?.idempotency_key("orchestrator-hook").await?;
    }
    if let Some(next) = input["metamorphTo"].as_str() {
        actor.metamorph(next)?.input(input["targetInput"].clone()).await?;
        // The platform stops this process and goes on with `next`.
        std::future::pending::<()>().await;
    }
    if let Some(target) = input["target"].as_str() {
        let run = actor
            .call(target)?
            .input(input["targetInput"].clone())
            .await?
            .ok_or_else(|| Error::NotFound(format!("the run of {target} disappeared")))?;
        let items = actor.new_client()?.run(&run.id).dataset().list_items().await?;
        actor.push_data(&json!({"calledRun": run.id, "status": run.status, "items": items.items.len()})).await?;
        actor.set_status_message(&format!("called {target}: {} items", items.items.len()), false).await?;
    }
    if let (Some(event), Some(count)) = (input["charge"]["event"].as_str(), input["charge"]["count"].as_u64()) {
        let charged = actor.charge(event, count).await?;
        actor
            .set_value(
                "CHARGED",
                &json!({"count": charged.charged_count, "limitReached": charged.event_charge_limit_reached}),
            )
            .await?;
    }
    if let Some(message) = input["failWith"].as_str() {
        actor.fail(3, message).await;
    }
    Ok(())
}
