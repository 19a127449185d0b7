//! Captures the core's `tracing` events during a scenario, so the kit can compare the
//! retry decisions it logged with what the server saw, and look for the token.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One captured event: its message and fields, rendered as text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured {
    pub(crate) message: String,
    pub(crate) fields: BTreeMap<String, String>,
}

impl Captured {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl Visit for Captured {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        if field.name() == "message" {
            self.message = s;
        } else {
            self.fields.insert(field.name().to_owned(), s);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields.insert(field.name().to_owned(), value.to_owned());
        }
    }
}

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<Captured>>>);

impl<S: Subscriber> Layer<S> for Sink {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut c = Captured::default();
        event.record(&mut c);
        // Also keep the target, so the "no token anywhere" check covers it.
        c.fields.insert("target".into(), event.metadata().target().to_owned());
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(c);
    }
}

/// Runs `f` with every event on this thread captured; returns its result and the events.
pub(crate) fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<Captured>) {
    let sink = Sink::default();
    let subscriber = tracing_subscriber::registry().with(sink.clone());
    let out = tracing::subscriber::with_default(subscriber, || {
        // Scenarios of other drivers run on other threads with their own scoped subscribers;
        // a callsite whose interest one of them cached as "never" would be silent here.
        tracing::callsite::rebuild_interest_cache();
        f()
    });
    let events = std::mem::take(&mut *sink.0.lock().unwrap_or_else(|e| e.into_inner()));
    (out, events)
}

/// The delays (ms) of the "Retrying request" decisions, in order.
pub(crate) fn retry_delays(events: &[Captured]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.message == "Retrying request")
        .filter_map(|e| e.field("delay_ms")?.parse().ok())
        .collect()
}
