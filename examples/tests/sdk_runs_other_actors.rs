//! The SDK's run methods (`call`, `new_client`, `set_status_message`, `add_webhook`,
//! `metamorph`, `fail`) in an Actor (`examples/src/bin/orchestrator.rs`) running at home on
//! the local platform, calling a Python Actor of the standard library.

use std::path::Path;

use apify_core::config::Config;
use apify_core::models::ActorJobStatus;
use apify_hyper::ApifyClient;
use apify_local::platform::{LocalActor, PlatformOptions};
use apify_tests::Emulator;
use apify_tests::server::{Reply, ScriptedServer};
use serde_json::json;

fn quoted(p: &str) -> String {
    format!("'{}'", p.replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_calls_metamorphs_and_fails_through_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let scripted = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/actors/scripted.py");
    // The same Actor, priced per event: $0.30 a page, a budget of $1.
    let mut charged = LocalActor::new("charged", &quoted(env!("CARGO_BIN_EXE_orchestrator"))).unwrap();
    let pricing = json!({"pricingModel": "PAY_PER_EVENT", "pricingPerEvent": {"actorChargeEvents": {
        "page": {"eventPriceUsd": 0.3, "eventTitle": "Page"}}}});
    charged.env.insert("APIFY_ACTOR_PRICING_INFO".into(), pricing.to_string());
    charged.env.insert("APIFY_CHARGED_ACTOR_EVENT_COUNTS".into(), "{}".into());
    charged.env.insert("ACTOR_MAX_TOTAL_CHARGE_USD".into(), "1".into());
    let options = PlatformOptions {
        actors: vec![
            LocalActor::new("orchestrator", &quoted(env!("CARGO_BIN_EXE_orchestrator"))).unwrap(),
            charged,
            LocalActor::new("scripted", &format!("python3 {}", quoted(&scripted.display().to_string()))).unwrap(),
        ],
        workdir: dir.path().to_owned(),
        ..PlatformOptions::default()
    };
    let emulator = Emulator::with_platform(&dir.path().join("storage"), Some("t"), options);
    let client = ApifyClient::from_config(Config::new().with_token("t").with_api_url(emulator.url()).unwrap());
    let receiver = ScriptedServer::start();
    receiver.set_fallback(|_| Reply::status(200));

    // call + new_client + set_status_message + add_webhook.
    let input = json!({"target": "scripted", "targetInput": {"items": 2}, "webhook": receiver.url("/done")});
    let run = client.actor("orchestrator").call().input(input).await.unwrap().unwrap();
    let log = client.run(&run.id).log().get().await.unwrap().unwrap_or_default();
    assert_eq!(run.status, ActorJobStatus::Succeeded, "{log}");
    assert_eq!(run.status_message.as_deref(), Some("called scripted: 2 items"));
    let items = client.run(&run.id).dataset().list_items().await.unwrap().items;
    let called = client.actor("scripted").last_run().get().await.unwrap().unwrap();
    assert_eq!(items, [json!({"calledRun": called.id, "status": "SUCCEEDED", "items": 2})]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while receiver.request_count() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let calls = receiver.requests();
    assert_eq!(calls.len(), 1, "the ad-hoc webhook fired once: {calls:?}");
    assert_eq!(calls[0].json()["resource"]["id"], run.id.as_str());

    // fail: FAILED, the exit code and the message the caller sees.
    let input = json!({"target": "scripted", "failWith": "gave up on purpose"});
    let failed = client.actor("orchestrator").call().input(input).await.unwrap().unwrap();
    assert_eq!((failed.status, failed.exit_code), (ActorJobStatus::Failed, Some(3)));
    assert_eq!(failed.status_message.as_deref(), Some("gave up on purpose"));

    // metamorph: the same run goes on as `scripted` with the new input.
    let input = json!({"metamorphTo": "scripted", "targetInput": {"items": 3}});
    let morphed = client.actor("orchestrator").call().input(input).await.unwrap().unwrap();
    let log = client.run(&morphed.id).log().get().await.unwrap().unwrap_or_default();
    assert_eq!(morphed.status, ActorJobStatus::Succeeded, "{log}");
    assert_eq!(client.run(&morphed.id).dataset().list_items().await.unwrap().items.len(), 3, "{log}");
    assert_eq!(morphed.metamorphs.map(|m| m.len()), Some(1));

    // charge at home: what fits in the budget is charged on the run, the rest refused.
    let input = json!({"charge": {"event": "page", "count": 5}});
    let run = client.actor("charged").call().input(input).await.unwrap().unwrap();
    let log = client.run(&run.id).log().get().await.unwrap().unwrap_or_default();
    assert_eq!(run.status, ActorJobStatus::Succeeded, "{log}");
    let out = client.run(&run.id).key_value_store().get_record("CHARGED").await.unwrap().unwrap();
    assert_eq!(out.value, apify_core::models::RecordValue::Json(json!({"count": 3, "limitReached": true})));
    let counts = serde_json::to_value(&run.charged_event_counts).unwrap();
    assert_eq!(counts, json!({"page": 3}), "charged on the run");
    // use_state: a failed run resurrected continues from its saved state.
    let input = json!({"attemptsUntilSuccess": 2});
    let first = client.actor("orchestrator").call().input(input).await.unwrap().unwrap();
    assert_eq!((first.status, first.status_message.as_deref()), (ActorJobStatus::Failed, Some("attempt 1 of 2")));
    client.run(&first.id).resurrect().await.unwrap();
    let again = client.run(&first.id).wait_for_finish(None).await.unwrap().unwrap();
    assert_eq!(again.status, ActorJobStatus::Succeeded, "{:?}", again.status_message);
    let state = client.run(&first.id).key_value_store().get_record("APIFY_GLOBAL_STATE").await.unwrap().unwrap();
    assert_eq!(state.value, apify_core::models::RecordValue::Json(json!({"attempts": 2})));
    // Actor::main: a panic is a FAILED run with the panic's message; before the timeout
    // the state is saved.
    let panicked = client.actor("orchestrator").call().input(json!({"panic": "out of cheese"})).await.unwrap().unwrap();
    assert_eq!((panicked.status, panicked.exit_code), (ActorJobStatus::Failed, Some(1)));
    assert_eq!(panicked.status_message.as_deref(), Some("out of cheese"));
    let input = json!({"progress": 5, "sleepSecs": 60});
    let call = client.actor("orchestrator").call().input(input).run_timeout(std::time::Duration::from_secs(3));
    let timed_out = call.await.unwrap().unwrap();
    assert_eq!(timed_out.status, ActorJobStatus::TimedOut);
    let state = client.run(&timed_out.id).key_value_store().get_record("APIFY_GLOBAL_STATE").await.unwrap();
    let log = client.run(&timed_out.id).log().get().await.unwrap().unwrap_or_default();
    assert_eq!(state.map(|s| s.value), Some(apify_core::models::RecordValue::Json(json!({"progress": 5}))), "{log}");
    assert!(log.contains("about to reach its timeout"), "{log}");
    // The emulator counts a charge retried under one idempotency key once.
    for _ in 0..2 {
        client.run(&run.id).charge("page").count(2).idempotency_key("retried").await.unwrap();
    }
    let run = client.run(&run.id).get().await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&run.charged_event_counts).unwrap(), json!({"page": 5}));
}
