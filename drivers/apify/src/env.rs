//! `Actor::get_env()`: every `ACTOR_*` / `APIFY_*` variable the platform sets, typed, as
//! the Python SDK's `Actor.get_env()` (the older `APIFY_*` names read where the new one is
//! missing). A variable that is set but does not parse is `None` with a warning, as there.

use std::collections::HashMap;

use serde_json::Value;
use time::OffsetDateTime;

use crate::config::parse_bool;

trait FromVar: Sized {
    fn from_var(name: &str, raw: &str) -> Result<Self, String>;
}

impl FromVar for String {
    fn from_var(_: &str, raw: &str) -> Result<Self, String> {
        Ok(raw.to_owned())
    }
}

impl FromVar for bool {
    fn from_var(name: &str, raw: &str) -> Result<Self, String> {
        parse_bool(name, raw).map_err(|e| e.to_string())
    }
}

macro_rules! from_str_var {
    ($($t:ty),*) => {$(
        impl FromVar for $t {
            fn from_var(_: &str, raw: &str) -> Result<Self, String> {
                raw.trim().parse().map_err(|e| format!("{e}"))
            }
        }
    )*};
}
from_str_var!(u64, u16, f64);

impl FromVar for OffsetDateTime {
    fn from_var(_: &str, raw: &str) -> Result<Self, String> {
        apify_core::models::timestamp::parse(raw.trim()).map_err(|e| e.to_string())
    }
}

impl FromVar for Value {
    fn from_var(_: &str, raw: &str) -> Result<Self, String> {
        serde_json::from_str(raw).map_err(|e| e.to_string())
    }
}

impl FromVar for Vec<String> {
    fn from_var(_: &str, raw: &str) -> Result<Self, String> {
        Ok(raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
    }
}

macro_rules! actor_env {
    ($( $(#[$doc:meta])* $field:ident : $t:ty = $name:literal $(| $old:literal)* ),* $(,)?) => {
        /// The platform's environment of an Actor run, typed (`Actor::get_env()`).
        #[derive(Clone, Default, PartialEq)]
        #[non_exhaustive]
        pub struct ActorEnv {
            $( $(#[$doc])* pub $field: Option<$t>, )*
        }

        impl ActorEnv {
            /// Every variable's name, the current one first.
            pub const NAMES: &'static [&'static [&'static str]] = &[$( &[$name $(, $old)*] ),*];

            /// Reads `vars` (the process environment in `Actor::get_env()`).
            pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
                let vars: HashMap<String, String> = vars.into_iter().filter(|(_, v)| !v.is_empty()).collect();
                Self { $( $field: read(&vars, &[$name $(, $old)*]), )* }
            }
        }
    };
}

fn read<T: FromVar>(vars: &HashMap<String, String>, names: &[&str]) -> Option<T> {
    let (name, raw) = names.iter().find_map(|n| vars.get(*n).map(|v| (*n, v)))?;
    T::from_var(name, raw).map_err(|e| tracing::warn!(variable = name, error = %e, "ignoring an invalid variable")).ok()
}

actor_env! {
    /// `ACTOR_ID`.
    actor_id: String = "ACTOR_ID" | "APIFY_ACTOR_ID" | "APIFY_ACT_ID",
    /// `ACTOR_RUN_ID`.
    actor_run_id: String = "ACTOR_RUN_ID" | "APIFY_ACTOR_RUN_ID" | "APIFY_ACT_RUN_ID",
    /// `ACTOR_TASK_ID`.
    actor_task_id: String = "ACTOR_TASK_ID" | "APIFY_ACTOR_TASK_ID",
    /// `ACTOR_BUILD_ID`.
    actor_build_id: String = "ACTOR_BUILD_ID" | "APIFY_ACTOR_BUILD_ID",
    /// `ACTOR_BUILD_NUMBER`.
    actor_build_number: String = "ACTOR_BUILD_NUMBER" | "APIFY_ACTOR_BUILD_NUMBER",
    /// `ACTOR_BUILD_TAGS`, comma-separated.
    actor_build_tags: Vec<String> = "ACTOR_BUILD_TAGS",
    /// `ACTOR_FULL_NAME`.
    actor_full_name: String = "ACTOR_FULL_NAME",
    /// `ACTOR_DEFAULT_DATASET_ID`.
    default_dataset_id: String = "ACTOR_DEFAULT_DATASET_ID" | "APIFY_DEFAULT_DATASET_ID",
    /// `ACTOR_DEFAULT_KEY_VALUE_STORE_ID`.
    default_key_value_store_id: String = "ACTOR_DEFAULT_KEY_VALUE_STORE_ID" | "APIFY_DEFAULT_KEY_VALUE_STORE_ID",
    /// `ACTOR_DEFAULT_REQUEST_QUEUE_ID`.
    default_request_queue_id: String = "ACTOR_DEFAULT_REQUEST_QUEUE_ID" | "APIFY_DEFAULT_REQUEST_QUEUE_ID",
    /// `ACTOR_EVENTS_WEBSOCKET_URL`.
    events_websocket_url: String = "ACTOR_EVENTS_WEBSOCKET_URL" | "APIFY_ACTOR_EVENTS_WS_URL",
    /// `ACTOR_INPUT_KEY`.
    input_key: String = "ACTOR_INPUT_KEY" | "APIFY_INPUT_KEY",
    /// `ACTOR_MAX_PAID_DATASET_ITEMS`.
    max_paid_dataset_items: u64 = "ACTOR_MAX_PAID_DATASET_ITEMS",
    /// `ACTOR_MAX_TOTAL_CHARGE_USD`.
    max_total_charge_usd: f64 = "ACTOR_MAX_TOTAL_CHARGE_USD",
    /// `ACTOR_MEMORY_MBYTES`.
    memory_mbytes: u64 = "ACTOR_MEMORY_MBYTES" | "APIFY_MEMORY_MBYTES",
    /// `ACTOR_PERMISSION_LEVEL`.
    permission_level: String = "ACTOR_PERMISSION_LEVEL",
    /// `ACTOR_STANDBY_PORT`.
    standby_port: u16 = "ACTOR_STANDBY_PORT",
    /// `ACTOR_STANDBY_URL`.
    standby_url: String = "ACTOR_STANDBY_URL",
    /// `ACTOR_STARTED_AT`.
    started_at: OffsetDateTime = "ACTOR_STARTED_AT" | "APIFY_STARTED_AT",
    /// `ACTOR_TIMEOUT_AT`.
    timeout_at: OffsetDateTime = "ACTOR_TIMEOUT_AT" | "APIFY_TIMEOUT_AT",
    /// `ACTOR_STORAGES_JSON`.
    storages_json: Value = "ACTOR_STORAGES_JSON",
    /// `ACTOR_TEST_PAY_PER_EVENT`.
    test_pay_per_event: bool = "ACTOR_TEST_PAY_PER_EVENT",
    /// `ACTOR_WEB_SERVER_PORT`.
    web_server_port: u16 = "ACTOR_WEB_SERVER_PORT" | "APIFY_CONTAINER_PORT",
    /// `ACTOR_WEB_SERVER_URL`.
    web_server_url: String = "ACTOR_WEB_SERVER_URL" | "APIFY_CONTAINER_URL",
    /// `APIFY_ACTOR_PRICING_INFO` (JSON).
    actor_pricing_info: Value = "APIFY_ACTOR_PRICING_INFO",
    /// `APIFY_API_BASE_URL`.
    api_base_url: String = "APIFY_API_BASE_URL",
    /// `APIFY_API_PUBLIC_BASE_URL`.
    api_public_base_url: String = "APIFY_API_PUBLIC_BASE_URL",
    /// `APIFY_CHARGED_ACTOR_EVENT_COUNTS` (JSON).
    charged_actor_event_counts: Value = "APIFY_CHARGED_ACTOR_EVENT_COUNTS",
    /// `APIFY_DEDICATED_CPUS`.
    dedicated_cpus: f64 = "APIFY_DEDICATED_CPUS",
    /// `APIFY_DEFAULT_BROWSER_PATH`.
    default_browser_path: String = "APIFY_DEFAULT_BROWSER_PATH",
    /// `APIFY_DISABLE_BROWSER_SANDBOX`.
    disable_browser_sandbox: bool = "APIFY_DISABLE_BROWSER_SANDBOX",
    /// `APIFY_DISABLE_OUTDATED_WARNING`.
    disable_outdated_warning: bool = "APIFY_DISABLE_OUTDATED_WARNING",
    /// `APIFY_FACT`.
    fact: String = "APIFY_FACT",
    /// `APIFY_HEADLESS`.
    headless: bool = "APIFY_HEADLESS",
    /// `APIFY_INPUT_SECRETS_PRIVATE_KEY_FILE`.
    input_secrets_private_key_file: String = "APIFY_INPUT_SECRETS_PRIVATE_KEY_FILE",
    /// `APIFY_INPUT_SECRETS_PRIVATE_KEY_PASSPHRASE` (never shown by `Debug`).
    input_secrets_private_key_passphrase: String = "APIFY_INPUT_SECRETS_PRIVATE_KEY_PASSPHRASE",
    /// `APIFY_IS_AT_HOME`.
    is_at_home: bool = "APIFY_IS_AT_HOME",
    /// `APIFY_LOCAL_STORAGE_DIR`.
    local_storage_dir: String = "APIFY_LOCAL_STORAGE_DIR" | "CRAWLEE_STORAGE_DIR",
    /// `APIFY_LOG_FORMAT`.
    log_format: String = "APIFY_LOG_FORMAT",
    /// `APIFY_LOG_LEVEL`.
    log_level: String = "APIFY_LOG_LEVEL",
    /// `APIFY_MAX_USED_CPU_RATIO`.
    max_used_cpu_ratio: f64 = "APIFY_MAX_USED_CPU_RATIO",
    /// `APIFY_META_ORIGIN`.
    meta_origin: String = "APIFY_META_ORIGIN",
    /// `APIFY_METAMORPH_AFTER_SLEEP_MILLIS`.
    metamorph_after_sleep_millis: u64 = "APIFY_METAMORPH_AFTER_SLEEP_MILLIS",
    /// `APIFY_PERSIST_STATE_INTERVAL_MILLIS`.
    persist_state_interval_millis: u64 = "APIFY_PERSIST_STATE_INTERVAL_MILLIS",
    /// `APIFY_PERSIST_STORAGE`.
    persist_storage: bool = "APIFY_PERSIST_STORAGE",
    /// `APIFY_PROXY_HOSTNAME`.
    proxy_hostname: String = "APIFY_PROXY_HOSTNAME",
    /// `APIFY_PROXY_PASSWORD` (never shown by `Debug`).
    proxy_password: String = "APIFY_PROXY_PASSWORD",
    /// `APIFY_PROXY_PORT`.
    proxy_port: u16 = "APIFY_PROXY_PORT",
    /// `APIFY_PROXY_STATUS_URL`.
    proxy_status_url: String = "APIFY_PROXY_STATUS_URL",
    /// `APIFY_PURGE_ON_START`.
    purge_on_start: bool = "APIFY_PURGE_ON_START",
    /// `APIFY_SDK_LATEST_VERSION`.
    sdk_latest_version: String = "APIFY_SDK_LATEST_VERSION",
    /// `APIFY_SYSTEM_INFO_INTERVAL_MILLIS`.
    system_info_interval_millis: u64 = "APIFY_SYSTEM_INFO_INTERVAL_MILLIS",
    /// `APIFY_TOKEN` (never shown by `Debug`).
    token: String = "APIFY_TOKEN",
    /// `APIFY_USER_ID`.
    user_id: String = "APIFY_USER_ID",
    /// `APIFY_USER_IS_PAYING`.
    user_is_paying: bool = "APIFY_USER_IS_PAYING",
    /// `APIFY_WORKFLOW_KEY`.
    workflow_key: String = "APIFY_WORKFLOW_KEY",
}

impl std::fmt::Debug for ActorEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("ActorEnv")
            .field("actor_id", &self.actor_id)
            .field("actor_run_id", &self.actor_run_id)
            .field("is_at_home", &self.is_at_home)
            .field("api_base_url", &self.api_base_url)
            .field("token", &hidden(&self.token))
            .field("proxy_password", &hidden(&self.proxy_password))
            .field("input_secrets_private_key_passphrase", &hidden(&self.input_secrets_private_key_passphrase))
            .finish_non_exhaustive()
    }
}

impl crate::Actor {
    /// The platform's environment of this run, typed; read when called.
    pub fn get_env(&self) -> ActorEnv {
        ActorEnv::from_vars(std::env::vars())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn variables_are_typed_and_old_names_read() {
        let env = ActorEnv::from_vars(vars(&[
            ("ACTOR_ID", "a1"),
            ("APIFY_ACT_RUN_ID", "r-old"),
            ("ACTOR_MEMORY_MBYTES", "2048"),
            ("ACTOR_MAX_TOTAL_CHARGE_USD", "1.5"),
            ("ACTOR_STARTED_AT", "2026-12-07T10:00:00.000Z"),
            ("ACTOR_BUILD_TAGS", "latest, beta"),
            ("APIFY_IS_AT_HOME", "1"),
            ("APIFY_ACTOR_PRICING_INFO", r#"{"pricingModel": "PAY_PER_EVENT"}"#),
            ("APIFY_TOKEN", "secret-token"),
            ("APIFY_PROXY_PORT", "not a port"),
            ("ACTOR_TASK_ID", ""),
        ]));
        assert_eq!(env.actor_id.as_deref(), Some("a1"));
        assert_eq!(env.actor_run_id.as_deref(), Some("r-old"), "the older name is read");
        assert_eq!(env.memory_mbytes, Some(2048));
        assert_eq!(env.max_total_charge_usd, Some(1.5));
        assert_eq!(env.started_at.map(|t| t.unix_timestamp()), Some(1_796_637_600));
        assert_eq!(env.actor_build_tags, Some(vec!["latest".to_owned(), "beta".to_owned()]));
        assert_eq!(env.is_at_home, Some(true));
        assert_eq!(env.actor_pricing_info.unwrap()["pricingModel"], "PAY_PER_EVENT");
        assert_eq!(env.proxy_port, None, "an invalid value is none");
        assert_eq!(env.actor_task_id, None, "an empty value is none");
        let shown = format!("{:?}", ActorEnv::from_vars(vars(&[("APIFY_TOKEN", "secret-token")])));
        assert!(!shown.contains("secret-token") && shown.contains("redacted"), "{shown}");
        assert!(ActorEnv::NAMES.iter().all(|n| !n.is_empty()));
    }
}
