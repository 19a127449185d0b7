//! The Actor's configuration, read from the Apify environment variables
//! (local-storage-format.md §8): names are case-insensitive, the first variable listed for
//! a setting wins, and booleans take `1/0`, `true/false`, `yes/no`, `on/off`, `t/f`, `y/n`.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Settings of an [`Actor`](crate::Actor).
#[derive(Clone, PartialEq, Eq)]
pub struct Configuration {
    /// `APIFY_TOKEN`.
    pub token: Option<String>,
    /// `APIFY_IS_AT_HOME`: running on the platform (all storages in the cloud).
    pub is_at_home: bool,
    /// `APIFY_API_BASE_URL` (default `https://api.apify.com`).
    pub api_base_url: String,
    /// `APIFY_API_PUBLIC_BASE_URL` (default `https://api.apify.com`).
    pub api_public_base_url: String,
    /// `ACTOR_DEFAULT_DATASET_ID`, `APIFY_DEFAULT_DATASET_ID`.
    pub default_dataset_id: Option<String>,
    /// `ACTOR_DEFAULT_KEY_VALUE_STORE_ID`, `APIFY_DEFAULT_KEY_VALUE_STORE_ID`.
    pub default_key_value_store_id: Option<String>,
    /// `ACTOR_DEFAULT_REQUEST_QUEUE_ID`, `APIFY_DEFAULT_REQUEST_QUEUE_ID`.
    pub default_request_queue_id: Option<String>,
    /// `ACTOR_INPUT_KEY`, `APIFY_INPUT_KEY`, `CRAWLEE_INPUT_KEY` (default `INPUT`).
    pub input_key: String,
    /// `APIFY_PURGE_ON_START`, `CRAWLEE_PURGE_ON_START` (default true).
    pub purge_on_start: bool,
    /// `APIFY_LOCAL_STORAGE_DIR`, `CRAWLEE_STORAGE_DIR` (default `./storage`).
    pub storage_dir: PathBuf,
    /// `ACTOR_RUN_ID`, `APIFY_ACTOR_RUN_ID`, `APIFY_ACT_RUN_ID`.
    pub actor_run_id: Option<String>,
    /// `ACTOR_STORAGES_JSON`: alias → ID mappings.
    pub storages_json: Option<serde_json::Value>,
    /// `APIFY_LOCAL_DURABILITY` (`full` default, or `relaxed`).
    pub local_durability: apify_local::fsio::Durability,
    /// `APIFY_ACTOR_PRICING_INFO`: the run's pricing (JSON).
    pub actor_pricing_info: Option<serde_json::Value>,
    /// `APIFY_CHARGED_ACTOR_EVENT_COUNTS`: events charged before this process (JSON).
    pub charged_event_counts: Option<serde_json::Value>,
    /// `ACTOR_MAX_TOTAL_CHARGE_USD`, as the decimal the platform gives.
    pub max_total_charge_usd: Option<String>,
    /// `ACTOR_TEST_PAY_PER_EVENT`: charge locally as if pay-per-event.
    pub test_pay_per_event: bool,
    /// `APIFY_PERSIST_STATE_INTERVAL_MILLIS`: how often `use_state` values are saved.
    pub persist_state_interval: std::time::Duration,
}

impl std::fmt::Debug for Configuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configuration")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("is_at_home", &self.is_at_home)
            .field("api_base_url", &self.api_base_url)
            .field("storage_dir", &self.storage_dir)
            .field("purge_on_start", &self.purge_on_start)
            .field("input_key", &self.input_key)
            .finish_non_exhaustive()
    }
}

impl Default for Configuration {
    fn default() -> Self {
        Self {
            token: None,
            is_at_home: false,
            api_base_url: "https://api.apify.com".into(),
            api_public_base_url: "https://api.apify.com".into(),
            default_dataset_id: None,
            default_key_value_store_id: None,
            default_request_queue_id: None,
            input_key: "INPUT".into(),
            purge_on_start: true,
            storage_dir: PathBuf::from("./storage"),
            actor_run_id: None,
            storages_json: None,
            local_durability: apify_local::fsio::Durability::Full,
            actor_pricing_info: None,
            charged_event_counts: None,
            max_total_charge_usd: None,
            test_pay_per_event: false,
            persist_state_interval: std::time::Duration::from_secs(60),
        }
    }
}

/// Parses a boolean as the Python SDK does.
pub fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "t" | "y" => Ok(true),
        "0" | "false" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(Error::Config(format!("{name}={value:?} is not a boolean (use true/false, 1/0, yes/no, on/off)"))),
    }
}

impl Configuration {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the given variables (names compared case-insensitively).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let vars: HashMap<String, String> = vars.into_iter().map(|(k, v)| (k.to_ascii_uppercase(), v)).collect();
        let first = |names: &[&str]| names.iter().find_map(|n| vars.get(*n).map(|v| ((*n).to_owned(), v.clone())));
        let text = |names: &[&str]| -> Result<Option<String>> {
            match first(names) {
                None => Ok(None),
                Some((name, v)) if v.is_empty() => Err(Error::Config(format!("{name} is set but empty"))),
                Some((_, v)) => Ok(Some(v)),
            }
        };
        let flag = |names: &[&str], default: bool| -> Result<bool> {
            match first(names) {
                None => Ok(default),
                Some((name, v)) => parse_bool(&name, &v),
            }
        };
        let mut c = Self { token: text(&["APIFY_TOKEN"])?, ..Self::default() };
        // Presence means at home, whatever the value (as the Python client reads it).
        c.is_at_home = match first(&["APIFY_IS_AT_HOME"]) {
            None => false,
            Some((_, v)) if v.is_empty() => true,
            Some((name, v)) => parse_bool(&name, &v)?,
        };
        if let Some(u) = text(&["APIFY_API_BASE_URL"])? {
            c.api_base_url = u;
        }
        if let Some(u) = text(&["APIFY_API_PUBLIC_BASE_URL"])? {
            c.api_public_base_url = u;
        }
        c.default_dataset_id = text(&["ACTOR_DEFAULT_DATASET_ID", "APIFY_DEFAULT_DATASET_ID"])?;
        c.default_key_value_store_id = text(&["ACTOR_DEFAULT_KEY_VALUE_STORE_ID", "APIFY_DEFAULT_KEY_VALUE_STORE_ID"])?;
        c.default_request_queue_id = text(&["ACTOR_DEFAULT_REQUEST_QUEUE_ID", "APIFY_DEFAULT_REQUEST_QUEUE_ID"])?;
        if let Some(k) = text(&["ACTOR_INPUT_KEY", "APIFY_INPUT_KEY", "CRAWLEE_INPUT_KEY"])? {
            c.input_key = k;
        }
        c.purge_on_start = flag(&["APIFY_PURGE_ON_START", "CRAWLEE_PURGE_ON_START"], true)?;
        if let Some(d) = text(&["APIFY_LOCAL_STORAGE_DIR", "CRAWLEE_STORAGE_DIR"])? {
            c.storage_dir = PathBuf::from(d);
        }
        c.actor_run_id = text(&["ACTOR_RUN_ID", "APIFY_ACTOR_RUN_ID", "APIFY_ACT_RUN_ID"])?;
        if let Some(j) = text(&["ACTOR_STORAGES_JSON"])? {
            c.storages_json = Some(
                serde_json::from_str(&j)
                    .map_err(|e| Error::Config(format!("ACTOR_STORAGES_JSON is not valid JSON: {e}")))?,
            );
        }
        let json = |name: &str| -> Result<Option<serde_json::Value>> {
            text(&[name])?
                .map(|j| serde_json::from_str(&j).map_err(|e| Error::Config(format!("{name} is not valid JSON: {e}"))))
                .transpose()
        };
        c.actor_pricing_info = json("APIFY_ACTOR_PRICING_INFO")?;
        c.charged_event_counts = json("APIFY_CHARGED_ACTOR_EVENT_COUNTS")?;
        if let Some(m) = text(&["ACTOR_MAX_TOTAL_CHARGE_USD"])? {
            if crate::charging::parse_usd(&m).is_none() {
                return Err(Error::Config(format!("ACTOR_MAX_TOTAL_CHARGE_USD={m:?} is not an amount of USD")));
            }
            c.max_total_charge_usd = Some(m);
        }
        c.test_pay_per_event = flag(&["ACTOR_TEST_PAY_PER_EVENT"], false)?;
        if let Some(ms) = text(&["APIFY_PERSIST_STATE_INTERVAL_MILLIS", "CRAWLEE_PERSIST_STATE_INTERVAL_MILLIS"])? {
            let ms: u64 = ms.trim().parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                Error::Config(format!(
                    "APIFY_PERSIST_STATE_INTERVAL_MILLIS={ms:?} must be a positive number of milliseconds"
                ))
            })?;
            c.persist_state_interval = std::time::Duration::from_millis(ms);
        }
        if let Some(d) = text(&["APIFY_LOCAL_DURABILITY"])? {
            c.local_durability = apify_local::fsio::Durability::parse(&d)
                .ok_or_else(|| Error::Config(format!("APIFY_LOCAL_DURABILITY={d:?} must be full or relaxed")))?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn first_listed_wins_and_names_are_case_insensitive() {
        let c = Configuration::from_vars(vars(&[
            ("ACTOR_DEFAULT_DATASET_ID", "dsid"),
            ("APIFY_DEFAULT_DATASET_ID", "other"),
            ("apify_local_storage_dir", "/tmp/s"),
            ("APIFY_INPUT_KEY", "B"),
            ("CRAWLEE_INPUT_KEY", "C"),
            ("CRAWLEE_PURGE_ON_START", "false"),
            ("APIFY_PURGE_ON_START", "true"),
        ]))
        .unwrap();
        assert_eq!(c.default_dataset_id.as_deref(), Some("dsid"));
        assert_eq!(c.storage_dir, PathBuf::from("/tmp/s"));
        assert_eq!(c.input_key, "B");
        assert!(c.purge_on_start);
        assert!(!c.is_at_home);
    }

    #[test]
    fn booleans_and_errors() {
        for (v, want) in [("1", true), ("No", false), ("ON", true), ("f", false), ("y", true)] {
            assert_eq!(parse_bool("X", v).unwrap(), want, "{v}");
        }
        assert!(Configuration::from_vars(vars(&[("APIFY_PURGE_ON_START", "")])).is_err());
        assert!(Configuration::from_vars(vars(&[("APIFY_PURGE_ON_START", "maybe")])).is_err());
        assert!(Configuration::from_vars(vars(&[("ACTOR_STORAGES_JSON", "{")])).is_err());
        assert!(Configuration::from_vars(vars(&[("APIFY_IS_AT_HOME", "")])).unwrap().is_at_home);
        let dbg = format!("{:?}", Configuration::from_vars(vars(&[("APIFY_TOKEN", "tok-secret")])).unwrap());
        assert!(!dbg.contains("tok-secret"), "{dbg}");
    }
}
