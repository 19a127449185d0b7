//! The kinds of the non-storage operations: what each returns and which options it takes,
//! with the Python client's names (client-behaviour §3.2, §15–16; api-operations §3).
//!
//! Every kind is used as [`ApiOp<Kind>`](super::api::ApiOp); the setters below exist on the
//! operation value and on the client's builder for it, so
//! `client.actor(id).start().memory_mbytes(256u64)` and
//! `ApiOp::<StartRun>::new(&ACTORS_RUNS_POST).memory_mbytes(256u64)` agree.

use std::time::Duration;

use serde_json::{Map, Value};

use serde::de::DeserializeOwned;

use super::api::{ApiOp, OpKind, WaitForResources, kinds, op_setters, page_setters};
use super::paginate::{OffsetPager, Paginated};
use crate::models::{
    AccountLimits, Actor, ActorJobStatus, ActorPermissionLevel, ActorShort, ActorVersion, BrowserInfo, Build,
    BuildShort, DecodeAndVerifyData, EncodeAndSignData, EnvVar, GeneralAccess, ItemList, ListPage, MonthlyUsage,
    PrivateUser, PublicUser, Record, RecordValue, Run, RunShort, Schedule, ScheduleInvoked, ScheduleShort, StoreActor,
    Task, TaskShort, Timestamp, VersionSourceType, Webhook, WebhookDispatch, WebhookEventType, WebhookShort,
};

kinds! {
    // Actors
    /// `ActorCollectionClient.list`
    ListActors: ListPage<ActorShort> = data("list of Actors");
    /// `ActorCollectionClient.create`
    CreateActor: Actor = data("Actor");
    /// `ActorClient.get`
    GetActor: Option<Actor> = opt_data("Actor");
    /// `ActorClient.update`
    UpdateActor: Actor = data("Actor");
    /// `ActorClient.delete` (and every other delete: a 404 of a client addressed by ID is
    /// success)
    Delete: () = gone();
    /// `ActorClient.validate_input`: `true` when the input is valid (an invalid one is a 400).
    ValidateInput: bool = with(decode_valid);
    /// `ActorClient.build`
    StartBuild: Build = data("Build");
    /// `ActorClient.default_build`
    DefaultBuild: Build = data("Build");
    /// `ActorClient.run_sync`, `TaskClient.run_sync`: the run's output record, decoded by
    /// its content type.
    RunSync: Record = with(decode_run_sync);
    // Versions and environment variables
    /// `ActorVersionCollectionClient.list`
    ListVersions: ItemList<ActorVersion> = data("list of versions");
    /// `ActorVersionCollectionClient.create`
    CreateVersion: ActorVersion = data("ActorVersion");
    /// `ActorVersionClient.get`
    GetVersion: Option<ActorVersion> = opt_data("ActorVersion");
    /// `ActorVersionClient.update`
    UpdateVersion: ActorVersion = data("ActorVersion");
    /// `ActorEnvVarCollectionClient.list`
    ListEnvVars: ItemList<EnvVar> = data("list of environment variables");
    /// `ActorEnvVarCollectionClient.create`
    CreateEnvVar: EnvVar = data("EnvVar");
    /// `ActorEnvVarClient.get`
    GetEnvVar: Option<EnvVar> = opt_data("EnvVar");
    /// `ActorEnvVarClient.update`
    UpdateEnvVar: EnvVar = data("EnvVar");
    // Builds
    /// `BuildCollectionClient.list`
    ListBuilds: ListPage<BuildShort> = data("list of builds");
    /// `BuildClient.get`
    GetBuild: Option<Build> = opt_data("Build");
    /// `BuildClient.abort`
    AbortBuild: Build = data("Build");
    /// `BuildClient.get_open_api_definition`
    OpenApiDefinition: Map<String, Value> = json("OpenAPI definition");
    // Runs
    /// `RunCollectionClient.list`
    ListRuns: ListPage<RunShort> = data("list of runs");
    /// `RunClient.get`
    GetRun: Option<Run> = opt_data("Run");
    /// `RunClient.update`
    UpdateRun: Run = data("Run");
    /// `RunClient.abort`
    AbortRun: Run = data("Run");
    /// `RunClient.metamorph`
    Metamorph: Run = data("Run");
    /// `RunClient.reboot`
    Reboot: Run = data("Run");
    /// `RunClient.resurrect`
    Resurrect: Run = data("Run");
    // Tasks
    /// `TaskCollectionClient.list`
    ListTasks: ListPage<TaskShort> = data("list of tasks");
    /// `TaskCollectionClient.create`
    CreateTask: Task = data("Task");
    /// `TaskClient.get`
    GetTask: Option<Task> = opt_data("Task");
    /// `TaskClient.update`, `publish`, `unpublish`
    UpdateTask: Task = data("Task");
    /// `TaskClient.get_input`: the task's input object (a 404 is an error: the path is a
    /// fixed sub-resource, §8).
    GetTaskInput: Value = json("task input");
    /// `TaskClient.update_input`
    UpdateTaskInput: Value = json("task input");
    // Webhooks
    /// `WebhookCollectionClient.list`
    ListWebhooks: ListPage<WebhookShort> = data("list of webhooks");
    /// `WebhookCollectionClient.create`
    CreateWebhook: Webhook = data("Webhook");
    /// `WebhookClient.get`
    GetWebhook: Option<Webhook> = opt_data("Webhook");
    /// `WebhookClient.update`
    UpdateWebhook: Webhook = data("Webhook");
    /// `WebhookClient.test`
    TestWebhook: WebhookDispatch = data("WebhookDispatch");
    /// `WebhookDispatchCollectionClient.list`
    ListDispatches: ListPage<WebhookDispatch> = data("list of webhook dispatches");
    /// `WebhookDispatchClient.get`
    GetDispatch: Option<WebhookDispatch> = opt_data("WebhookDispatch");
    // Schedules
    /// `ScheduleCollectionClient.list`
    ListSchedules: ListPage<ScheduleShort> = data("list of schedules");
    /// `ScheduleCollectionClient.create`
    CreateSchedule: Schedule = data("Schedule");
    /// `ScheduleClient.get`
    GetSchedule: Option<Schedule> = opt_data("Schedule");
    /// `ScheduleClient.update`
    UpdateSchedule: Schedule = data("Schedule");
    /// `ScheduleClient.get_log`
    ScheduleLog: Vec<ScheduleInvoked> = data("schedule log");
    // Store, users, logs, tools
    /// `StoreCollectionClient.list`
    ListStore: ListPage<StoreActor> = data("list of Store Actors");
    /// `UserClient.get`: the private data of `me`, the public data of anyone else.
    GetUser: Option<UserInfo> = with(decode_user);
    /// `UserClient.monthly_usage`
    GetMonthlyUsage: MonthlyUsage = data("MonthlyUsage");
    /// `UserClient.limits`
    GetLimits: AccountLimits = data("AccountLimits");
    /// `UserClient.update_limits`
    UpdateLimits: () = ok();
    /// `LogClient.get`
    GetLog: Option<String> = opt_text();
    /// `LogClient.get_as_bytes`
    GetLogBytes: Option<bytes::Bytes> = opt_bytes();
    /// `ToolsClient.browser_info`
    GetBrowserInfo: BrowserInfo = with(decode_browser_info);
    /// `ToolsClient.encode_and_sign`
    EncodeAndSign: EncodeAndSignData = data("EncodeAndSignData");
    /// `ToolsClient.decode_and_verify`
    DecodeAndVerify: DecodeAndVerifyData = data("DecodeAndVerifyData");
}

#[inline]
fn decode_run_sync(r: crate::response::Response, _: crate::response::NotFound) -> Result<Record, crate::error::Error> {
    let key = r
        .url
        .query()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "outputRecordKey").map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| "OUTPUT".to_owned());
    let r = r.success()?;
    let content_type = r.header("content-type").map(str::to_owned);
    let value = super::key_value_store::decode_record_value(r.status, content_type.as_deref(), r.body)?;
    Ok(Record { key, value, content_type })
}

/// What `UserClient.get` returns: private data for `me`, public data for anyone else.
#[derive(Debug, Clone, PartialEq)]
pub enum UserInfo {
    /// `GET /v2/users/me`.
    Private(Box<PrivateUser>),
    /// `GET /v2/users/{id}`.
    Public(Box<PublicUser>),
}

impl UserInfo {
    /// The username.
    pub fn username(&self) -> &str {
        match self {
            Self::Private(u) => &u.username,
            Self::Public(u) => &u.username,
        }
    }
}

#[inline]
fn decode_user(
    r: crate::response::Response,
    nf: crate::response::NotFound,
) -> Result<Option<UserInfo>, crate::error::Error> {
    let me = r.url.path().trim_end_matches('/').ends_with("/users/me");
    if me {
        Ok(crate::response::optional_data::<PrivateUser>(r, "PrivateUser", nf)?.map(|u| UserInfo::Private(Box::new(u))))
    } else {
        Ok(crate::response::optional_data::<PublicUser>(r, "PublicUser", nf)?.map(|u| UserInfo::Public(Box::new(u))))
    }
}

#[inline]
fn decode_valid(r: crate::response::Response, _: crate::response::NotFound) -> Result<bool, crate::error::Error> {
    #[derive(serde::Deserialize)]
    struct Valid {
        valid: bool,
    }
    let r = r.success()?;
    // `{"valid": true}` as documented; some deployments wrap it in `data`.
    match r.json::<Valid>("input validation") {
        Ok(v) => Ok(v.valid),
        Err(_) => r.data::<Valid>("input validation").map(|v| v.valid),
    }
}

#[inline]
fn decode_browser_info(
    r: crate::response::Response,
    _: crate::response::NotFound,
) -> Result<BrowserInfo, crate::error::Error> {
    // Documented as a plain object; accept the usual envelope too.
    let r = r.success()?;
    match r.data::<BrowserInfo>("BrowserInfo") {
        Ok(v) => Ok(v),
        Err(_) => r.json("BrowserInfo"),
    }
}

page_setters!(ListActors, ListBuilds, ListRuns, ListTasks, ListWebhooks, ListDispatches, ListSchedules, ListStore);

op_setters!(paged ListActors {
    /// Only Actors the user owns.
    my: bool => query "my",
    /// `createdAt` or `stats.lastRunStartedAt`.
    sort_by: String => query "sortBy",
});

op_setters!(paged ListRuns {
    /// Only runs with this status (several may be given comma-separated).
    status: ActorJobStatus => query "status",
    /// Only runs with any of these statuses.
    statuses: [ActorJobStatus] => query "status",
    /// Only runs started after this time.
    started_after: Timestamp => query "startedAfter",
    /// Only runs started before this time.
    started_before: Timestamp => query "startedBefore",
});

op_setters!(paged ListStore {
    /// Full-text search.
    search: String => query "search",
    /// `relevance`, `popularity`, `newest` or `lastUpdate`.
    sort_by: String => query "sortBy",
    /// Only Actors of this category.
    category: String => query "category",
    /// Only Actors of this user.
    username: String => query "username",
    /// Only Actors with this pricing model (`FREE`, `FLAT_PRICE_PER_MONTH`, `PRICE_PER_DATASET_ITEM`, `PAY_PER_EVENT`).
    pricing_model: String => query "pricingModel",
    /// Only Actors that agents can run without an account.
    allows_agentic_users: bool => query "allowsAgenticUsers",
    /// `full` or `agent` (a shorter shape for AI agents).
    response_format: String => query "responseFormat",
    /// Include Actors that cannot be run.
    include_unrunnable_actors: bool => query "includeUnrunnableActors",
});

/// The Actor fields shared by `create` and `update` (names of the Python client).
macro_rules! actor_fields {
    ($($kind:ty),*) => {$(
        op_setters!($kind {
            /// The Actor's name.
            name: String => body "name",
            /// Human-readable title.
            title: String => body "title",
            /// Description.
            description: String => body "description",
            /// Title for search engines.
            seo_title: String => body "seoTitle",
            /// Description for search engines.
            seo_description: String => body "seoDescription",
            /// The versions (objects as the API describes them).
            versions: [Value] => body "versions",
            /// Restart the run process when it exits with an error.
            restart_on_error: bool => body "defaultRunOptions.restartOnError",
            /// Whether the Actor is public.
            is_public: bool => body "isPublic",
            /// Whether the Actor is deprecated.
            is_deprecated: bool => body "isDeprecated",
            /// Store categories.
            categories: [String] => body "categories",
            /// Build tag or number run by default.
            default_run_build: String => body "defaultRunOptions.build",
            /// Default limit of results.
            default_run_max_items: u64 => body "defaultRunOptions.maxItems",
            /// Default memory in megabytes.
            default_run_memory_mbytes: u64 => body "defaultRunOptions.memoryMbytes",
            /// Default run timeout (whole seconds).
            default_run_timeout: Duration => body "defaultRunOptions.timeoutSecs",
            /// Permission level forced on runs.
            default_run_force_permission_level: ActorPermissionLevel => body "defaultRunOptions.forcePermissionLevel",
            /// Example input, serialised.
            example_run_input_body: String => body "exampleRunInput.body",
            /// Content type of the example input.
            example_run_input_content_type: String => body "exampleRunInput.contentType",
            /// Whether Standby is enabled.
            actor_standby_is_enabled: bool => body "actorStandby.isEnabled",
            /// Desired concurrent requests per Standby run.
            actor_standby_desired_requests_per_actor_run: u64 => body "actorStandby.desiredRequestsPerActorRun",
            /// Maximum concurrent requests per Standby run.
            actor_standby_max_requests_per_actor_run: u64 => body "actorStandby.maxRequestsPerActorRun",
            /// Idle time after which a Standby run stops (whole seconds).
            actor_standby_idle_timeout: Duration => body "actorStandby.idleTimeoutSecs",
            /// Build of Standby runs.
            actor_standby_build: String => body "actorStandby.build",
            /// Memory of Standby runs in megabytes.
            actor_standby_memory_mbytes: u64 => body "actorStandby.memoryMbytes",
            /// Keep the Standby configuration from being overridden.
            actor_standby_disable_standby_fields_override: bool => body "actorStandby.disableStandbyFieldsOverride",
            /// Pass the Actor input to Standby runs.
            actor_standby_should_pass_actor_input: bool => body "actorStandby.shouldPassActorInput",
            /// Pricing of the Actor (objects as the API describes them).
            pricing_infos: [Value] => body "pricingInfos",
            /// The Actor's permission level.
            actor_permission_level: ActorPermissionLevel => body "actorPermissionLevel",
            /// Build tags to set (`{"latest": {"buildId": ".."}}`; a `null` value removes a tag).
            tagged_builds: Value => body "taggedBuilds",
        });
    )*};
}
actor_fields!(CreateActor, UpdateActor);

/// Options of a run start (client-behaviour §16), shared by Actors and tasks.
macro_rules! run_options {
    ($($kind:ty),*) => {$(
        op_setters!($kind {
            /// Build tag or number to run.
            build: String => query "build",
            /// Maximum results (pay-per-result Actors charge no more).
            max_items: u64 => query "maxItems",
            /// Maximum total charge of a pay-per-event run, in USD.
            max_total_charge_usd: f64 => query "maxTotalChargeUsd",
            /// Restart the run when it fails.
            restart_on_error: bool => query "restartOnError",
            /// Memory in megabytes.
            memory_mbytes: u64 => query "memory",
            /// Run timeout (whole seconds).
            run_timeout: Duration => query "timeout",
        });
    )*};
}
/// `ActorClient.start`, `TaskClient.start`: the run started (a plan of its own, since it
/// may wait for resources; see [`StartPlan`](super::jobs::StartPlan)).
#[derive(Debug, Clone, Copy)]
pub struct RunStart;

/// `ActorClient.call`, `TaskClient.call`: start, then wait for the run to finish (see
/// [`CallPlan`](super::jobs::CallPlan)).
#[derive(Debug, Clone, Copy)]
pub struct RunCall;

run_options!(RunStart, RunCall, RunSync, Resurrect);

op_setters!(RunStart {
    /// Hold the start request until the run finishes, at most this many seconds (≤ 60).
    wait_for_finish: u64 => query "waitForFinish",
    /// Run with this permission level instead of the Actor's.
    force_permission_level: ActorPermissionLevel => query "forcePermissionLevel",
});

op_setters!(RunCall {
    /// Run with this permission level instead of the Actor's.
    force_permission_level: ActorPermissionLevel => query "forcePermissionLevel",
});

/// Plan options of starts and calls.
macro_rules! plan_options {
    ($($kind:ty),*) => {$(
        impl ApiOp<$kind> {
            /// Retry the start every 10 s while the account lacks memory or a run slot:
            /// `true` until it starts, a duration for at most that long.
            pub fn wait_for_resources(mut self, wait: impl Into<WaitForResources>) -> Self {
                self.plan.wait_for_resources = wait.into();
                self
            }
        }
        impl<Driver> crate::client::CallBuilder<Driver, ApiOp<$kind>> {
            /// Retry the start every 10 s while the account lacks memory or a run slot:
            /// `true` until it starts, a duration for at most that long.
            pub fn wait_for_resources(self, wait: impl Into<WaitForResources>) -> Self {
                self.map_op(|o| o.wait_for_resources(wait))
            }
        }
    )*};
}
plan_options!(RunStart, RunCall);

impl ApiOp<RunCall> {
    /// Wait at most this long for the run to finish (then the run is returned as it is).
    pub fn wait_duration(mut self, wait: Duration) -> Self {
        self.plan.wait_duration = Some(wait);
        self
    }
}

impl<Driver> crate::client::CallBuilder<Driver, ApiOp<RunCall>> {
    /// Wait at most this long for the run to finish (then the run is returned as it is).
    pub fn wait_duration(self, wait: Duration) -> Self {
        self.map_op(|o| o.wait_duration(wait))
    }
}

op_setters!(RunSync {
    /// The record of the default key-value store returned (default `OUTPUT`).
    output_record_key: String => query "outputRecordKey",
});

op_setters!(StartBuild {
    /// Build with beta versions of Apify packages.
    beta_packages: bool => query "betaPackages",
    /// Tag applied to the build on success.
    tag: String => query "tag",
    /// Use the Docker layer cache.
    use_cache: bool => query "useCache",
    /// Hold the request until the build finishes, at most this many seconds (≤ 60).
    wait_for_finish: u64 => query "waitForFinish",
});

op_setters!(DefaultBuild {
    /// Hold the request until the build finishes, at most this many seconds (≤ 60).
    wait_for_finish: u64 => query "waitForFinish",
});

op_setters!(GetBuild {
    /// Hold the request until the build finishes, at most this many seconds (≤ 60).
    wait_for_finish: u64 => query "waitForFinish",
});

op_setters!(GetRun {
    /// Hold the request until the run finishes, at most this many seconds (≤ 60).
    wait_for_finish: u64 => query "waitForFinish",
});

op_setters!(ValidateInput {
    /// Validate against this build's input schema.
    build: String => query "build",
});

/// Version fields shared by `create` and `update`.
macro_rules! version_fields {
    ($($kind:ty),*) => {$(
        op_setters!($kind {
            /// Tag of builds of this version.
            build_tag: String => body "buildTag",
            /// Environment variables (`{"name", "value", "isSecret"}` objects).
            env_vars: [Value] => body "envVars",
            /// Make the environment variables available at build time.
            apply_env_vars_to_build: bool => body "applyEnvVarsToBuild",
            /// Where the source lives.
            source_type: VersionSourceType => body "sourceType",
            /// Source files (`{"name", "format", "content"}` objects).
            source_files: [Value] => body "sourceFiles",
            /// Git repository URL.
            git_repo_url: String => body "gitRepoUrl",
            /// Tarball URL.
            tarball_url: String => body "tarballUrl",
            /// GitHub Gist URL.
            github_gist_url: String => body "gitHubGistUrl",
        });
    )*};
}
version_fields!(CreateVersion, UpdateVersion);

op_setters!(CreateEnvVar {
    /// Whether the value is secret (hidden once stored).
    is_secret: bool => body "isSecret",
});
op_setters!(UpdateEnvVar {
    /// Whether the value is secret (hidden once stored).
    is_secret: bool => body "isSecret",
});

op_setters!(UpdateRun {
    /// The run's status message.
    status_message: String => body "statusMessage",
    /// Whether the status message is the last one.
    is_status_message_terminal: bool => body "isStatusMessageTerminal",
    /// Who may read the run's storages without a token.
    general_access: GeneralAccess => body "generalAccess",
});

op_setters!(AbortRun {
    /// Let the run persist its state and exit (it gets an `aborting` event first).
    gracefully: bool => query "gracefully",
});

op_setters!(Metamorph {
    /// Build of the target Actor.
    target_actor_build: String => query "build",
});

/// Task fields shared by `create` and `update`.
macro_rules! task_fields {
    ($($kind:ty),*) => {$(
        op_setters!($kind {
            /// The task's name.
            name: String => body "name",
            /// Title.
            title: String => body "title",
            /// Description.
            description: String => body "description",
            /// The task's input.
            task_input: Value => body "input",
            /// Build tag or number.
            build: String => body "options.build",
            /// Maximum results.
            max_items: u64 => body "options.maxItems",
            /// Maximum total charge in USD.
            max_total_charge_usd: f64 => body "options.maxTotalChargeUsd",
            /// Memory in megabytes.
            memory_mbytes: u64 => body "options.memoryMbytes",
            /// Run timeout (whole seconds).
            run_timeout: Duration => body "options.timeoutSecs",
            /// Restart runs that fail.
            restart_on_error: bool => body "options.restartOnError",
            /// Desired concurrent requests per Standby run.
            actor_standby_desired_requests_per_actor_run: u64 => body "actorStandby.desiredRequestsPerActorRun",
            /// Maximum concurrent requests per Standby run.
            actor_standby_max_requests_per_actor_run: u64 => body "actorStandby.maxRequestsPerActorRun",
            /// Idle time after which a Standby run stops (whole seconds).
            actor_standby_idle_timeout: Duration => body "actorStandby.idleTimeoutSecs",
            /// Build of Standby runs.
            actor_standby_build: String => body "actorStandby.build",
            /// Memory of Standby runs in megabytes.
            actor_standby_memory_mbytes: u64 => body "actorStandby.memoryMbytes",
            /// Public page: title for search engines.
            public_config_seo_title: String => body "publicConfig.seoTitle",
            /// Public page: description for search engines.
            public_config_seo_description: String => body "publicConfig.seoDescription",
            /// Public page: input fields shown.
            public_config_input_schema_fields: [String] => body "publicConfig.inputSchemaFields",
            /// Public page: dataset shown.
            public_config_dataset_name: String => body "publicConfig.datasetName",
            /// Public page: dataset view shown.
            public_config_dataset_view: String => body "publicConfig.datasetView",
        });
    )*};
}
task_fields!(CreateTask, UpdateTask);

op_setters!(UpdateTask {
    /// Whether the task is published on its public page.
    is_public: bool => body "isPublic",
});

/// Webhook fields shared by `create` and `update`.
macro_rules! webhook_fields {
    ($($kind:ty),*) => {$(
        op_setters!($kind {
            /// Events that trigger it.
            event_types: [WebhookEventType] => body "eventTypes",
            /// Where it sends its request.
            request_url: String => body "requestUrl",
            /// Template of the JSON payload.
            payload_template: String => body "payloadTemplate",
            /// Template of the HTTP headers.
            headers_template: String => body "headersTemplate",
            /// Also interpolate `{{...}}` inside string values of the templates.
            should_interpolate_strings: bool => body "shouldInterpolateStrings",
            /// Only for this Actor.
            actor_id: String => body "condition.actorId",
            /// Only for this task.
            actor_task_id: String => body "condition.actorTaskId",
            /// Only for this run (an ad-hoc webhook).
            actor_run_id: String => body "condition.actorRunId",
            /// Ignore TLS errors of the target.
            ignore_ssl_errors: bool => body "ignoreSslErrors",
            /// Do not retry failed deliveries.
            do_not_retry: bool => body "doNotRetry",
            /// Description.
            description: String => body "description",
            /// Whether it is ad hoc (for one run).
            is_ad_hoc: bool => body "isAdHoc",
        });
    )*};
}
webhook_fields!(CreateWebhook, UpdateWebhook);

op_setters!(CreateWebhook {
    /// Key that keeps a retried create from making two webhooks.
    idempotency_key: String => body "idempotencyKey",
});

/// Schedule fields shared by `create` and `update`.
macro_rules! schedule_fields {
    ($($kind:ty),*) => {$(
        op_setters!($kind {
            /// When it fires (cron syntax).
            cron_expression: String => body "cronExpression",
            /// Whether it is enabled.
            is_enabled: bool => body "isEnabled",
            /// Skip an invocation while the previous one still runs.
            is_exclusive: bool => body "isExclusive",
            /// Name.
            name: String => body "name",
            /// What it starts (`{"type": "RUN_ACTOR", "actorId": ..}` objects).
            actions: [Value] => body "actions",
            /// Description.
            description: String => body "description",
            /// Time zone of the cron expression.
            timezone: String => body "timezone",
            /// Title.
            title: String => body "title",
            /// E-mail notifications.
            notifications_email: bool => body "notifications.email",
        });
    )*};
}
schedule_fields!(CreateSchedule, UpdateSchedule);

op_setters!(GetMonthlyUsage {
    /// A day of the usage cycle to report (`YYYY-MM-DD`; default: the current cycle).
    date: String => query "date",
});

op_setters!(UpdateLimits {
    /// Maximum monthly usage in USD.
    max_monthly_usage_usd: f64 => body "maxMonthlyUsageUsd",
    /// Data retention in days.
    data_retention_days: u64 => body "dataRetentionDays",
});

op_setters!(GetBrowserInfo {
    /// Leave the request headers out of the answer.
    skip_headers: bool => query "skipHeaders",
    /// Return the headers as a raw list.
    raw_headers: bool => query "rawHeaders",
});

op_setters!(GetLog {
    /// Keep ANSI escape codes.
    raw: bool => query "raw",
    /// Ask for `Content-Disposition: attachment`.
    download: bool => query "download",
});

op_setters!(GetLogBytes {
    /// Keep ANSI escape codes.
    raw: bool => query "raw",
    /// Ask for `Content-Disposition: attachment`.
    download: bool => query "download",
});

/// Ad-hoc webhooks of a run start, Base64-encoded JSON as the `webhooks` parameter wants.
fn encode_webhooks<T: serde::Serialize>(hooks: &[T]) -> Result<String, crate::error::Error> {
    use base64::Engine as _;
    let json = crate::json::to_vec(hooks)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(json))
}

/// Ad-hoc webhooks of a run start (its input comes from `input_body!`).
macro_rules! run_webhooks {
    ($($kind:ty),*) => {$(
        impl ApiOp<$kind> {
            /// Ad-hoc webhooks for this run (`WebhookRepresentation`s or JSON objects with
            /// `eventTypes`, `requestUrl`, ...).
            pub fn webhooks<T: serde::Serialize>(self, hooks: &[T]) -> Self {
                if hooks.is_empty() {
                    return self.remove_query_param("webhooks");
                }
                match encode_webhooks(hooks) {
                    Ok(b64) => self.query_param("webhooks", &b64),
                    Err(e) => self.invalid(e.to_string()),
                }
            }
        }

        impl<Driver> crate::client::CallBuilder<Driver, ApiOp<$kind>> {
            /// Ad-hoc webhooks for this run.
            pub fn webhooks<T: serde::Serialize>(self, hooks: &[T]) -> Self {
                self.map_op(|o| o.webhooks(hooks))
            }
        }
    )*};
}
run_webhooks!(RunStart, RunCall, RunSync);

/// Operations whose body is an input (client-behaviour §3.2).
macro_rules! input_body {
    ($($kind:ty),*) => {$(
impl ApiOp<$kind> {
    /// The input: JSON values as JSON, strings as text, bytes as bytes (for a run, it
    /// becomes its `INPUT` record).
    pub fn input(self, input: impl Into<RecordValue>) -> Self {
        self.value_body(input.into(), None)
    }

    /// The input with this content type (JSON values only as a JSON type).
    pub fn input_as(self, input: impl Into<RecordValue>, content_type: &str) -> Self {
        self.value_body(input.into(), Some(content_type))
    }
}

impl<Driver> crate::client::CallBuilder<Driver, ApiOp<$kind>> {
    /// The input: JSON values as JSON, strings as text, bytes as bytes.
    pub fn input(self, input: impl Into<RecordValue>) -> Self {
        self.map_op(|o| o.input(input))
    }

    /// The input with this content type (JSON values only as a JSON type).
    pub fn input_as(self, input: impl Into<RecordValue>, content_type: &str) -> Self {
        self.map_op(|o| o.input_as(input, content_type))
    }
}
    )*};
}
input_body!(RunStart, RunCall, RunSync, Metamorph, ValidateInput);

/// A listing of `ListPage<Item>` pages, iterated by offset.
pub trait Listing: OpKind<Output = ListPage<Self::Item>> {
    /// What a page holds.
    type Item: DeserializeOwned + Send + 'static;
}

macro_rules! listings {
    ($($kind:ty => $item:ty),* $(,)?) => {$(
        impl Listing for $kind {
            type Item = $item;
        }
    )*};
}
listings!(
    ListActors => ActorShort,
    ListBuilds => BuildShort,
    ListRuns => RunShort,
    ListTasks => TaskShort,
    ListWebhooks => WebhookShort,
    ListDispatches => WebhookDispatch,
    ListSchedules => ScheduleShort,
    ListStore => StoreActor,
);

impl<K: Listing> Paginated for ApiOp<K> {
    type Item = K::Item;
    type State = OffsetPager;
    fn start(&self, chunk_size: Option<u64>) -> OffsetPager {
        let num = |name| self.get_query_param(name).and_then(|v| v.parse::<u64>().ok());
        OffsetPager::new(num("offset"), num("limit"), chunk_size)
    }
    fn next_page(&self, state: &mut OffsetPager) -> Option<Self> {
        let (offset, limit) = state.next_page()?;
        let page = self.clone().query_param("offset", &offset).remove_query_param("limit");
        Some(match limit {
            Some(l) => page.query_param("limit", &l),
            None => page,
        })
    }
    fn on_page(state: &mut OffsetPager, page: ListPage<K::Item>) -> Vec<K::Item> {
        let take = state.on_page(page.count, page.items.len());
        let mut items = page.items;
        items.truncate(take);
        items
    }
}

/// One request that yields every item (versions and environment variables are not paged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SinglePage {
    done: bool,
}

macro_rules! unpaged {
    ($($kind:ty => $item:ty),* $(,)?) => {$(
        impl Paginated for ApiOp<$kind> {
            type Item = $item;
            type State = SinglePage;
            fn start(&self, _: Option<u64>) -> SinglePage {
                SinglePage::default()
            }
            fn next_page(&self, state: &mut SinglePage) -> Option<Self> {
                (!std::mem::replace(&mut state.done, true)).then(|| self.clone())
            }
            fn on_page(_: &mut SinglePage, page: ItemList<$item>) -> Vec<$item> {
                page.items
            }
        }
    )*};
}
unpaged!(ListVersions => ActorVersion, ListEnvVars => EnvVar);

impl<Driver> crate::client::CallBuilder<Driver, ApiOp<RunSync>> {
    /// Sends the run as `GET` (no input: the Actor's or task's own input is used).
    pub fn with_get(self) -> Self {
        self.map_op(ApiOp::with_get)
    }
}
