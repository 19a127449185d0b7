//! Captures the core's `tracing` events during a scenario, so the kit can compare the
//! retry decisions it logged with what the server saw, and look for the token.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, Once};

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

thread_local! {
    /// The sink of the scenario running on this thread, if any.
    static CURRENT: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Routes each event to the sink of the thread that emitted it.
struct PerThread;

impl<S: Subscriber> Layer<S> for PerThread {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let Some(sink) = CURRENT.with(|c| c.borrow().clone()) else { return };
        let mut c = Captured::default();
        event.record(&mut c);
        // Also keep the target, so the "no token anywhere" check covers it.
        c.fields.insert("target".into(), event.metadata().target().to_owned());
        sink.0.lock().unwrap_or_else(|e| e.into_inner()).push(c);
    }
}

/// Runs `f` with every event on this thread captured; returns its result and the events.
pub(crate) fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<Captured>) {
    // One global subscriber, installed once, whose interest in every callsite is "always".
    // Scoped subscribers per scenario raced: a callsite first hit on another driver's
    // thread could cache "never" while this thread's subscriber was being registered.
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(PerThread));
    });
    let sink = Sink::default();
    let previous = CURRENT.with(|c| c.replace(Some(sink.clone())));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
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
