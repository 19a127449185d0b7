//! `Actor::use_state`: a value kept in a key-value store (`APIFY_GLOBAL_STATE` of the
//! default store, as the Python SDK's), restored when the run starts again (resurrected,
//! migrated, rebooted) and saved every `APIFY_PERSIST_STATE_INTERVAL_MILLIS` (the local
//! `persistState` event), on `persist()` and at `exit()`.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::actor::{Actor, OpenOptions};
use crate::error::{Error, Result};
use crate::key_value_store::KeyValueStore;

/// The key of the state in the default key-value store.
pub const STATE_KEY: &str = "APIFY_GLOBAL_STATE";

type Saving<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Something saved on every `persistState`.
pub(crate) trait Persist: Send + Sync {
    fn persist(&self) -> Saving<'_>;
}

struct Shared<T> {
    value: Mutex<T>,
    store: KeyValueStore,
    key: String,
}

/// A value kept across runs; change it through [`State::lock`].
pub struct State<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<T> std::fmt::Debug for State<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("key", &self.shared.key).finish_non_exhaustive()
    }
}

impl<T: Serialize + Send + 'static> State<T> {
    /// The value, to read or change (do not hold it across an `.await`).
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.shared.value.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Saves the value now.
    pub async fn persist(&self) -> Result<()> {
        self.shared.save().await
    }
}

impl<T: Serialize + Send + 'static> Shared<T> {
    async fn save(&self) -> Result<()> {
        // Serialised under the lock, saved after it.
        let bytes = {
            let value = self.value.lock().unwrap_or_else(PoisonError::into_inner);
            apify_core::json::to_vec(&*value)?
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|source| Error::Json { what: "the state".into(), source })?;
        self.store.set_value(&self.key, &value).await
    }
}

impl<T: Serialize + Send + 'static> Persist for Shared<T> {
    fn persist(&self) -> Saving<'_> {
        Box::pin(self.save())
    }
}

impl Actor {
    /// The run's state: `APIFY_GLOBAL_STATE` of the default key-value store, or `default`
    /// when there is none yet. Saved every persist interval, on [`State::persist`] and at
    /// [`Actor::exit`].
    pub async fn use_state<T>(&self, default: T) -> Result<State<T>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        self.use_state_in(OpenOptions::new(), STATE_KEY, default).await
    }

    /// [`Actor::use_state`] under `key` of the store `store` opens.
    pub async fn use_state_in<T>(&self, store: OpenOptions, key: &str, default: T) -> Result<State<T>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        let store = self.open_key_value_store(store).await?;
        let slot = (store.id().to_owned(), key.to_owned());
        // One value per store and key, as the Python SDK's: a second call gets the same.
        let same = |found: Arc<dyn Any + Send + Sync>| {
            found
                .downcast::<Shared<T>>()
                .map(|shared| State { shared })
                .map_err(|_| Error::InvalidArgument(format!("the state {key:?} is already used with another type")))
        };
        if let Some(found) = self.state_handle(&slot) {
            return same(found);
        }
        let value = store.get_value_as::<T>(key).await?.unwrap_or(default);
        let shared = Arc::new(Shared { value: Mutex::new(value), store, key: key.to_owned() });
        match self.add_state_handle(slot, shared.clone()) {
            Some(raced) => same(raced),
            None => {
                self.register_state(shared.clone());
                Ok(State { shared })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::Configuration;

    fn config(dir: &std::path::Path, every: Duration) -> Configuration {
        Configuration {
            storage_dir: dir.join("storage"),
            purge_on_start: false,
            persist_state_interval: every,
            ..Configuration::default()
        }
    }

    #[tokio::test]
    async fn the_state_is_saved_on_the_timer_and_at_exit_and_restored() {
        let dir = tempfile::tempdir().unwrap();
        let actor = Actor::with_config(config(dir.path(), Duration::from_millis(50))).await.unwrap();
        let state = actor.use_state(json!({"done": 0})).await.unwrap();
        state.lock()["done"] = json!(1);
        // The timer saves it without being asked.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let saved: Option<Value> =
                actor.open_key_value_store(OpenOptions::new()).await.unwrap().get_value_as(STATE_KEY).await.unwrap();
            if saved == Some(json!({"done": 1})) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the timer never saved the state: {saved:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        state.lock()["done"] = json!(2);
        actor.exit().await.unwrap();
        drop((state, actor));
        // A new run of the same folder (not purged) starts from the saved value.
        let again = Actor::with_config(config(dir.path(), Duration::from_secs(60))).await.unwrap();
        let state = again.use_state(json!({"done": 0})).await.unwrap();
        assert_eq!(*state.lock(), json!({"done": 2}));
        // A typed state, under its own key.
        #[derive(serde::Serialize, serde::Deserialize, Default, PartialEq, Debug)]
        struct Progress {
            page: u32,
        }
        let same = again.use_state(json!({"ignored": true})).await.unwrap();
        assert_eq!(*same.lock(), json!({"done": 2}), "a second use_state is the same value");
        same.lock()["done"] = json!(3);
        assert_eq!(state.lock()["done"], 3);
        assert!(again.use_state(0_u32).await.is_err(), "another type under the same key");
        let typed = again.use_state_in(OpenOptions::new(), "PROGRESS", Progress::default()).await.unwrap();
        typed.lock().page = 7;
        typed.persist().await.unwrap();
        let back: Option<Progress> =
            again.open_key_value_store(OpenOptions::new()).await.unwrap().get_value_as("PROGRESS").await.unwrap();
        assert_eq!(back, Some(Progress { page: 7 }));
    }
}
