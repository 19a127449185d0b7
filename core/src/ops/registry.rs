//! The operation registry: one [`OpSpec`] per core operation of the OpenAPI document (133 of
//! its 231; the other 98 are aliases reached through chained clients, see [`ALIASES`]).
//!
//! Every request an operation builds names its spec ([`OpMeta::operation_id`]), so logs,
//! tests and the coverage table agree on which API operation a method calls. The
//! spec-coverage test (`tests/tests/api_coverage.rs`) checks this table against the OpenAPI
//! document: every operation present, every path and method right, every query parameter
//! sendable.
//!
//! [`OpMeta::operation_id`]: crate::request::OpMeta

use http::Method;

use crate::config::TimeoutTier;

/// The static facts of one API operation.
#[derive(Debug)]
pub struct OpSpec {
    /// The OpenAPI `operationId`, e.g. `actors_runs_post`.
    pub id: &'static str,
    /// HTTP method.
    pub method: Method,
    /// OpenAPI path template, e.g. `/v2/actors/{actorId}/runs`.
    pub path: &'static str,
    /// Segments after the client's resource path (`runs`, `builds/default`), `/`-separated.
    pub tail: &'static str,
    /// Default timeout tier.
    pub tier: TimeoutTier,
    /// The method that calls it, in the official client's terms (`ActorClient.start`); logged
    /// as `client_method`.
    pub client_method: &'static str,
}

impl PartialEq for OpSpec {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl OpSpec {
    /// The tail as segments (none for an empty tail).
    pub fn tail_segments(&self) -> impl Iterator<Item = &'static str> {
        self.tail.split('/').filter(|s| !s.is_empty())
    }
}

/// An alias rule: the OpenAPI routes under `prefix` are the core routes under `target`
/// (client-behaviour §16, api-operations §1). They are reached through chained clients
/// (`run.dataset()`, `actor.last_run().log()`), which build the alias path and send the
/// core operation's request there.
#[derive(Debug, Clone, Copy)]
pub struct AliasRule {
    /// Alias prefix, e.g. `/v2/actor-runs/{runId}/dataset`.
    pub prefix: &'static str,
    /// The core route it stands for, e.g. `/v2/datasets/{datasetId}`.
    pub target: &'static str,
    /// How a user reaches it.
    pub via: &'static str,
    /// Extra query parameters every alias under the prefix takes (`status`, `origin`).
    pub extra_query: &'static [&'static str],
}

const LAST: &[&str] = &["status", "origin"];

/// The alias rules, covering the 98 convenience routes.
pub static ALIASES: [AliasRule; 13] = [
    AliasRule {
        prefix: "/v2/actor-runs/{runId}/dataset",
        target: "/v2/datasets/{datasetId}",
        via: "RunClient.dataset",
        extra_query: &[],
    },
    AliasRule {
        prefix: "/v2/actor-runs/{runId}/key-value-store",
        target: "/v2/key-value-stores/{storeId}",
        via: "RunClient.key_value_store",
        extra_query: &[],
    },
    AliasRule {
        prefix: "/v2/actor-runs/{runId}/request-queue",
        target: "/v2/request-queues/{queueId}",
        via: "RunClient.request_queue",
        extra_query: &[],
    },
    AliasRule {
        prefix: "/v2/actors/{actorId}/runs/last/dataset",
        target: "/v2/datasets/{datasetId}",
        via: "ActorClient.last_run().dataset",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actors/{actorId}/runs/last/key-value-store",
        target: "/v2/key-value-stores/{storeId}",
        via: "ActorClient.last_run().key_value_store",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actors/{actorId}/runs/last/request-queue",
        target: "/v2/request-queues/{queueId}",
        via: "ActorClient.last_run().request_queue",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actors/{actorId}/runs/last/log",
        target: "/v2/actor-runs/{runId}/log",
        via: "ActorClient.last_run().log",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actors/{actorId}/runs/last",
        target: "/v2/actor-runs/{runId}",
        via: "ActorClient.last_run",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actor-tasks/{actorTaskId}/runs/last/dataset",
        target: "/v2/datasets/{datasetId}",
        via: "TaskClient.last_run().dataset",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actor-tasks/{actorTaskId}/runs/last/key-value-store",
        target: "/v2/key-value-stores/{storeId}",
        via: "TaskClient.last_run().key_value_store",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actor-tasks/{actorTaskId}/runs/last/request-queue",
        target: "/v2/request-queues/{queueId}",
        via: "TaskClient.last_run().request_queue",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actor-tasks/{actorTaskId}/runs/last/log",
        target: "/v2/actor-runs/{runId}/log",
        via: "TaskClient.last_run().log",
        extra_query: LAST,
    },
    AliasRule {
        prefix: "/v2/actor-tasks/{actorTaskId}/runs/last",
        target: "/v2/actor-runs/{runId}",
        via: "TaskClient.last_run",
        extra_query: LAST,
    },
];

/// Declares the specs and the list of all of them.
macro_rules! registry {
    ($( $(#[$m:meta])* $name:ident = $id:literal, $method:ident $path:literal [$tail:literal], $tier:ident, $cm:literal; )*) => {
        $(
            $(#[$m])*
            #[doc = concat!("`", $id, "`: `", stringify!($method), " ", $path, "`")]
            pub static $name: OpSpec = OpSpec {
                id: $id,
                method: Method::$method,
                path: $path,
                tail: $tail,
                tier: TimeoutTier::$tier,
                client_method: $cm,
            };
        )*
        /// Every core operation.
        pub static ALL: &[&OpSpec] = &[$(&$name),*];
    };
}

registry! {
    // Actors
    ACTORS_GET = "actors_get", GET "/v2/actors" [""], Medium, "ActorCollectionClient.list";
    ACTORS_POST = "actors_post", POST "/v2/actors" [""], Medium, "ActorCollectionClient.create";
    ACTOR_GET = "actor_get", GET "/v2/actors/{actorId}" [""], Short, "ActorClient.get";
    ACTOR_PUT = "actor_put", PUT "/v2/actors/{actorId}" [""], Short, "ActorClient.update";
    ACTOR_DELETE = "actor_delete", DELETE "/v2/actors/{actorId}" [""], Short, "ActorClient.delete";
    ACTOR_VALIDATE_INPUT_POST = "actor_validateInput_post", POST "/v2/actors/{actorId}/validate-input" ["validate-input"], Short, "ActorClient.validate_input";
    // Actor versions
    ACTOR_VERSIONS_GET = "actor_versions_get", GET "/v2/actors/{actorId}/versions" [""], Short, "ActorVersionCollectionClient.list";
    ACTOR_VERSIONS_POST = "actor_versions_post", POST "/v2/actors/{actorId}/versions" [""], Short, "ActorVersionCollectionClient.create";
    ACTOR_VERSION_GET = "actor_version_get", GET "/v2/actors/{actorId}/versions/{versionNumber}" [""], Short, "ActorVersionClient.get";
    ACTOR_VERSION_PUT = "actor_version_put", PUT "/v2/actors/{actorId}/versions/{versionNumber}" [""], Short, "ActorVersionClient.update";
    ACTOR_VERSION_POST = "actor_version_post", POST "/v2/actors/{actorId}/versions/{versionNumber}" [""], Short, "ActorVersionClient.update_by_post";
    ACTOR_VERSION_DELETE = "actor_version_delete", DELETE "/v2/actors/{actorId}/versions/{versionNumber}" [""], Short, "ActorVersionClient.delete";
    // Actor version environment variables
    ACTOR_VERSION_ENV_VARS_GET = "actor_version_envVars_get", GET "/v2/actors/{actorId}/versions/{versionNumber}/env-vars" [""], Short, "ActorEnvVarCollectionClient.list";
    ACTOR_VERSION_ENV_VARS_POST = "actor_version_envVars_post", POST "/v2/actors/{actorId}/versions/{versionNumber}/env-vars" [""], Short, "ActorEnvVarCollectionClient.create";
    ACTOR_VERSION_ENV_VAR_GET = "actor_version_envVar_get", GET "/v2/actors/{actorId}/versions/{versionNumber}/env-vars/{envVarName}" [""], Short, "ActorEnvVarClient.get";
    ACTOR_VERSION_ENV_VAR_PUT = "actor_version_envVar_put", PUT "/v2/actors/{actorId}/versions/{versionNumber}/env-vars/{envVarName}" [""], Short, "ActorEnvVarClient.update";
    ACTOR_VERSION_ENV_VAR_POST = "actor_version_envVar_post", POST "/v2/actors/{actorId}/versions/{versionNumber}/env-vars/{envVarName}" [""], Short, "ActorEnvVarClient.update_by_post";
    ACTOR_VERSION_ENV_VAR_DELETE = "actor_version_envVar_delete", DELETE "/v2/actors/{actorId}/versions/{versionNumber}/env-vars/{envVarName}" [""], Short, "ActorEnvVarClient.delete";
    // Builds
    ACTORS_BUILDS_GET = "actors_builds_get", GET "/v2/actors/{actorId}/builds" [""], Medium, "BuildCollectionClient.list";
    ACTORS_BUILDS_POST = "actors_builds_post", POST "/v2/actors/{actorId}/builds" ["builds"], Medium, "ActorClient.build";
    ACTOR_BUILD_DEFAULT_GET = "actor_build_default_get", GET "/v2/actors/{actorId}/builds/default" ["builds/default"], Short, "ActorClient.default_build";
    ACTOR_OPENAPI_JSON_GET = "actor_openapi_json_get", GET "/v2/actors/{actorId}/builds/{buildId}/openapi.json" ["openapi.json"], Medium, "BuildClient.get_open_api_definition";
    /// Deprecated: use `actorBuild_get`.
    ACTORS_BUILD_GET = "actors_build_get", GET "/v2/actors/{actorId}/builds/{buildId}" [""], Short, "BuildClient.get";
    /// Deprecated: use `actorBuild_abort_post`.
    ACTORS_BUILD_ABORT_POST = "actors_build_abort_post", POST "/v2/actors/{actorId}/builds/{buildId}/abort" ["abort"], Short, "BuildClient.abort";
    ACTOR_BUILDS_GET = "actorBuilds_get", GET "/v2/actor-builds" [""], Medium, "BuildCollectionClient.list";
    ACTOR_BUILD_GET = "actorBuild_get", GET "/v2/actor-builds/{buildId}" [""], Short, "BuildClient.get";
    ACTOR_BUILD_DELETE = "actorBuild_delete", DELETE "/v2/actor-builds/{buildId}" [""], Short, "BuildClient.delete";
    ACTOR_BUILD_ABORT_POST = "actorBuild_abort_post", POST "/v2/actor-builds/{buildId}/abort" ["abort"], Short, "BuildClient.abort";
    ACTOR_BUILD_LOG_GET = "actorBuild_log_get", GET "/v2/actor-builds/{buildId}/log" [""], Long, "LogClient.get";
    ACTOR_BUILD_OPENAPI_JSON_GET = "actorBuild_openapi_json_get", GET "/v2/actor-builds/{buildId}/openapi.json" ["openapi.json"], Medium, "BuildClient.get_open_api_definition";
    // Runs
    ACTORS_RUNS_GET = "actors_runs_get", GET "/v2/actors/{actorId}/runs" [""], Medium, "RunCollectionClient.list";
    ACTORS_RUNS_POST = "actors_runs_post", POST "/v2/actors/{actorId}/runs" ["runs"], Medium, "ActorClient.start";
    ACTOR_RUN_SYNC_POST = "actor_runSync_post", POST "/v2/actors/{actorId}/run-sync" ["run-sync"], None, "ActorClient.run_sync";
    ACTOR_RUN_SYNC_GET = "actor_runSync_get", GET "/v2/actors/{actorId}/run-sync" ["run-sync"], None, "ActorClient.run_sync";
    ACTOR_RUN_SYNC_GET_DATASET_ITEMS_POST = "actor_runSyncGetDatasetItems_post", POST "/v2/actors/{actorId}/run-sync-get-dataset-items" ["run-sync-get-dataset-items"], None, "ActorClient.run_sync_get_dataset_items";
    ACTOR_RUN_SYNC_GET_DATASET_ITEMS_GET = "actor_runSyncGetDatasetItems_get", GET "/v2/actors/{actorId}/run-sync-get-dataset-items" ["run-sync-get-dataset-items"], None, "ActorClient.run_sync_get_dataset_items";
    ACTOR_RUN_RESURRECT_POST = "actor_run_resurrect_post", POST "/v2/actors/{actorId}/runs/{runId}/resurrect" ["resurrect"], Medium, "RunClient.resurrect";
    ACTOR_RUNS_LAST_GET = "actor_runs_last_get", GET "/v2/actors/{actorId}/runs/last" [""], Short, "RunClient.get";
    /// Deprecated: use `actorRun_get`.
    ACTORS_RUN_GET = "actors_run_get", GET "/v2/actors/{actorId}/runs/{runId}" [""], Short, "RunClient.get";
    /// Deprecated: use `actorRun_abort_post`.
    ACTORS_RUN_ABORT_POST = "actors_run_abort_post", POST "/v2/actors/{actorId}/runs/{runId}/abort" ["abort"], Medium, "RunClient.abort";
    /// Deprecated: use `actorRun_metamorph_post`.
    ACTORS_RUN_METAMORPH_POST = "actors_run_metamorph_post", POST "/v2/actors/{actorId}/runs/{runId}/metamorph" ["metamorph"], Medium, "RunClient.metamorph";
    ACTOR_RUNS_GET = "actorRuns_get", GET "/v2/actor-runs" [""], Medium, "RunCollectionClient.list";
    ACTOR_RUN_GET = "actorRun_get", GET "/v2/actor-runs/{runId}" [""], Short, "RunClient.get";
    ACTOR_RUN_PUT = "actorRun_put", PUT "/v2/actor-runs/{runId}" [""], Short, "RunClient.update";
    ACTOR_RUN_DELETE = "actorRun_delete", DELETE "/v2/actor-runs/{runId}" [""], Short, "RunClient.delete";
    ACTOR_RUN_ABORT_POST = "actorRun_abort_post", POST "/v2/actor-runs/{runId}/abort" ["abort"], Medium, "RunClient.abort";
    ACTOR_RUN_METAMORPH_POST = "actorRun_metamorph_post", POST "/v2/actor-runs/{runId}/metamorph" ["metamorph"], Medium, "RunClient.metamorph";
    ACTOR_RUN_REBOOT_POST = "actorRun_reboot_post", POST "/v2/actor-runs/{runId}/reboot" ["reboot"], Medium, "RunClient.reboot";
    POST_RESURRECT_RUN = "PostResurrectRun", POST "/v2/actor-runs/{runId}/resurrect" ["resurrect"], Medium, "RunClient.resurrect";
    POST_CHARGE_RUN = "PostChargeRun", POST "/v2/actor-runs/{runId}/charge" ["charge"], Short, "RunClient.charge";
    ACTOR_RUN_LOG_GET = "actorRun_log_get", GET "/v2/actor-runs/{runId}/log" [""], Long, "LogClient.get";
    // Actor tasks
    ACTOR_TASKS_GET = "actorTasks_get", GET "/v2/actor-tasks" [""], Medium, "TaskCollectionClient.list";
    ACTOR_TASKS_POST = "actorTasks_post", POST "/v2/actor-tasks" [""], Medium, "TaskCollectionClient.create";
    ACTOR_TASK_GET = "actorTask_get", GET "/v2/actor-tasks/{actorTaskId}" [""], Short, "TaskClient.get";
    ACTOR_TASK_PUT = "actorTask_put", PUT "/v2/actor-tasks/{actorTaskId}" [""], Short, "TaskClient.update";
    ACTOR_TASK_DELETE = "actorTask_delete", DELETE "/v2/actor-tasks/{actorTaskId}" [""], Short, "TaskClient.delete";
    ACTOR_TASK_INPUT_GET = "actorTask_input_get", GET "/v2/actor-tasks/{actorTaskId}/input" ["input"], Short, "TaskClient.get_input";
    ACTOR_TASK_INPUT_PUT = "actorTask_input_put", PUT "/v2/actor-tasks/{actorTaskId}/input" ["input"], Short, "TaskClient.update_input";
    ACTOR_TASK_RUNS_GET = "actorTask_runs_get", GET "/v2/actor-tasks/{actorTaskId}/runs" [""], Medium, "RunCollectionClient.list";
    ACTOR_TASK_RUNS_POST = "actorTask_runs_post", POST "/v2/actor-tasks/{actorTaskId}/runs" ["runs"], Medium, "TaskClient.start";
    ACTOR_TASK_RUN_SYNC_GET = "actorTask_runSync_get", GET "/v2/actor-tasks/{actorTaskId}/run-sync" ["run-sync"], None, "TaskClient.run_sync";
    ACTOR_TASK_RUN_SYNC_POST = "actorTask_runSync_post", POST "/v2/actor-tasks/{actorTaskId}/run-sync" ["run-sync"], None, "TaskClient.run_sync";
    ACTOR_TASK_RUN_SYNC_GET_DATASET_ITEMS_GET = "actorTask_runSyncGetDatasetItems_get", GET "/v2/actor-tasks/{actorTaskId}/run-sync-get-dataset-items" ["run-sync-get-dataset-items"], None, "TaskClient.run_sync_get_dataset_items";
    ACTOR_TASK_RUN_SYNC_GET_DATASET_ITEMS_POST = "actorTask_runSyncGetDatasetItems_post", POST "/v2/actor-tasks/{actorTaskId}/run-sync-get-dataset-items" ["run-sync-get-dataset-items"], None, "TaskClient.run_sync_get_dataset_items";
    ACTOR_TASK_RUNS_LAST_GET = "actorTask_runs_last_get", GET "/v2/actor-tasks/{actorTaskId}/runs/last" [""], Short, "RunClient.get";
    // Datasets
    DATASETS_GET = "datasets_get", GET "/v2/datasets" [""], Medium, "DatasetCollectionClient.list";
    DATASETS_POST = "datasets_post", POST "/v2/datasets" [""], Short, "DatasetCollectionClient.get_or_create";
    DATASET_GET = "dataset_get", GET "/v2/datasets/{datasetId}" [""], Short, "DatasetClient.get";
    DATASET_PUT = "dataset_put", PUT "/v2/datasets/{datasetId}" [""], Short, "DatasetClient.update";
    DATASET_DELETE = "dataset_delete", DELETE "/v2/datasets/{datasetId}" [""], Short, "DatasetClient.delete";
    DATASET_ITEMS_GET = "dataset_items_get", GET "/v2/datasets/{datasetId}/items" ["items"], Long, "DatasetClient.list_items";
    DATASET_ITEMS_HEAD = "dataset_items_head", HEAD "/v2/datasets/{datasetId}/items" ["items"], Long, "DatasetClient.get_items_head";
    DATASET_ITEMS_POST = "dataset_items_post", POST "/v2/datasets/{datasetId}/items" ["items"], Medium, "DatasetClient.push_items";
    DATASET_STATISTICS_GET = "dataset_statistics_get", GET "/v2/datasets/{datasetId}/statistics" ["statistics"], Short, "DatasetClient.get_statistics";
    // Key-value stores
    KEY_VALUE_STORES_GET = "keyValueStores_get", GET "/v2/key-value-stores" [""], Medium, "KeyValueStoreCollectionClient.list";
    KEY_VALUE_STORES_POST = "keyValueStores_post", POST "/v2/key-value-stores" [""], Short, "KeyValueStoreCollectionClient.get_or_create";
    KEY_VALUE_STORE_GET = "keyValueStore_get", GET "/v2/key-value-stores/{storeId}" [""], Short, "KeyValueStoreClient.get";
    KEY_VALUE_STORE_PUT = "keyValueStore_put", PUT "/v2/key-value-stores/{storeId}" [""], Long, "KeyValueStoreClient.update";
    KEY_VALUE_STORE_DELETE = "keyValueStore_delete", DELETE "/v2/key-value-stores/{storeId}" [""], Short, "KeyValueStoreClient.delete";
    KEY_VALUE_STORE_KEYS_GET = "keyValueStore_keys_get", GET "/v2/key-value-stores/{storeId}/keys" ["keys"], Medium, "KeyValueStoreClient.list_keys";
    KEY_VALUE_STORE_RECORDS_GET = "keyValueStore_records_get", GET "/v2/key-value-stores/{storeId}/records" ["records"], Long, "KeyValueStoreClient.download_records";
    KEY_VALUE_STORE_RECORD_GET = "keyValueStore_record_get", GET "/v2/key-value-stores/{storeId}/records/{recordKey}" ["records"], Long, "KeyValueStoreClient.get_record";
    KEY_VALUE_STORE_RECORD_HEAD = "keyValueStore_record_head", HEAD "/v2/key-value-stores/{storeId}/records/{recordKey}" ["records"], Long, "KeyValueStoreClient.record_exists";
    KEY_VALUE_STORE_RECORD_PUT = "keyValueStore_record_put", PUT "/v2/key-value-stores/{storeId}/records/{recordKey}" ["records"], Long, "KeyValueStoreClient.set_record";
    KEY_VALUE_STORE_RECORD_POST = "keyValueStore_record_post", POST "/v2/key-value-stores/{storeId}/records/{recordKey}" ["records"], Long, "KeyValueStoreClient.post_record";
    KEY_VALUE_STORE_RECORD_DELETE = "keyValueStore_record_delete", DELETE "/v2/key-value-stores/{storeId}/records/{recordKey}" ["records"], Short, "KeyValueStoreClient.delete_record";
    // Request queues
    REQUEST_QUEUES_GET = "requestQueues_get", GET "/v2/request-queues" [""], Medium, "RequestQueueCollectionClient.list";
    REQUEST_QUEUES_POST = "requestQueues_post", POST "/v2/request-queues" [""], Short, "RequestQueueCollectionClient.get_or_create";
    REQUEST_QUEUE_GET = "requestQueue_get", GET "/v2/request-queues/{queueId}" [""], Short, "RequestQueueClient.get";
    REQUEST_QUEUE_PUT = "requestQueue_put", PUT "/v2/request-queues/{queueId}" [""], Short, "RequestQueueClient.update";
    REQUEST_QUEUE_DELETE = "requestQueue_delete", DELETE "/v2/request-queues/{queueId}" [""], Short, "RequestQueueClient.delete";
    REQUEST_QUEUE_REQUESTS_GET = "requestQueue_requests_get", GET "/v2/request-queues/{queueId}/requests" ["requests"], Medium, "RequestQueueClient.list_requests";
    REQUEST_QUEUE_REQUESTS_POST = "requestQueue_requests_post", POST "/v2/request-queues/{queueId}/requests" ["requests"], Short, "RequestQueueClient.add_request";
    REQUEST_QUEUE_REQUEST_GET = "requestQueue_request_get", GET "/v2/request-queues/{queueId}/requests/{requestId}" ["requests"], Short, "RequestQueueClient.get_request";
    REQUEST_QUEUE_REQUEST_PUT = "requestQueue_request_put", PUT "/v2/request-queues/{queueId}/requests/{requestId}" ["requests"], Medium, "RequestQueueClient.update_request";
    REQUEST_QUEUE_REQUEST_DELETE = "requestQueue_request_delete", DELETE "/v2/request-queues/{queueId}/requests/{requestId}" ["requests"], Short, "RequestQueueClient.delete_request";
    REQUEST_QUEUE_REQUESTS_BATCH_POST = "requestQueue_requests_batch_post", POST "/v2/request-queues/{queueId}/requests/batch" ["requests/batch"], Medium, "RequestQueueClient.batch_add_requests";
    REQUEST_QUEUE_REQUESTS_BATCH_DELETE = "requestQueue_requests_batch_delete", DELETE "/v2/request-queues/{queueId}/requests/batch" ["requests/batch"], Short, "RequestQueueClient.batch_delete_requests";
    REQUEST_QUEUE_HEAD_GET = "requestQueue_head_get", GET "/v2/request-queues/{queueId}/head" ["head"], Short, "RequestQueueClient.list_head";
    REQUEST_QUEUE_REQUESTS_UNLOCK_POST = "requestQueue_requests_unlock_post", POST "/v2/request-queues/{queueId}/requests/unlock" ["requests/unlock"], Long, "RequestQueueClient.unlock_requests";
    REQUEST_QUEUE_HEAD_LOCK_POST = "requestQueue_head_lock_post", POST "/v2/request-queues/{queueId}/head/lock" ["head/lock"], Medium, "RequestQueueClient.list_and_lock_head";
    REQUEST_QUEUE_REQUEST_LOCK_PUT = "requestQueue_request_lock_put", PUT "/v2/request-queues/{queueId}/requests/{requestId}/lock" ["requests"], Medium, "RequestQueueClient.prolong_request_lock";
    REQUEST_QUEUE_REQUEST_LOCK_DELETE = "requestQueue_request_lock_delete", DELETE "/v2/request-queues/{queueId}/requests/{requestId}/lock" ["requests"], Short, "RequestQueueClient.delete_request_lock";
    // Webhooks and dispatches
    ACTOR_WEBHOOKS_GET = "actor_webhooks_get", GET "/v2/actors/{actorId}/webhooks" [""], Medium, "WebhookCollectionClient.list";
    ACTOR_TASK_WEBHOOKS_GET = "actorTask_webhooks_get", GET "/v2/actor-tasks/{actorTaskId}/webhooks" [""], Medium, "WebhookCollectionClient.list";
    WEBHOOKS_GET = "webhooks_get", GET "/v2/webhooks" [""], Medium, "WebhookCollectionClient.list";
    WEBHOOKS_POST = "webhooks_post", POST "/v2/webhooks" [""], Short, "WebhookCollectionClient.create";
    WEBHOOK_GET = "webhook_get", GET "/v2/webhooks/{webhookId}" [""], Short, "WebhookClient.get";
    WEBHOOK_PUT = "webhook_put", PUT "/v2/webhooks/{webhookId}" [""], Short, "WebhookClient.update";
    WEBHOOK_DELETE = "webhook_delete", DELETE "/v2/webhooks/{webhookId}" [""], Short, "WebhookClient.delete";
    WEBHOOK_TEST_POST = "webhook_test_post", POST "/v2/webhooks/{webhookId}/test" ["test"], Medium, "WebhookClient.test";
    WEBHOOK_WEBHOOK_DISPATCHES_GET = "webhook_webhookDispatches_get", GET "/v2/webhooks/{webhookId}/dispatches" [""], Medium, "WebhookDispatchCollectionClient.list";
    WEBHOOK_DISPATCHES_GET = "webhookDispatches_get", GET "/v2/webhook-dispatches" [""], Medium, "WebhookDispatchCollectionClient.list";
    WEBHOOK_DISPATCH_GET = "webhookDispatch_get", GET "/v2/webhook-dispatches/{dispatchId}" [""], Short, "WebhookDispatchClient.get";
    // Schedules
    SCHEDULES_GET = "schedules_get", GET "/v2/schedules" [""], Medium, "ScheduleCollectionClient.list";
    SCHEDULES_POST = "schedules_post", POST "/v2/schedules" [""], Short, "ScheduleCollectionClient.create";
    SCHEDULE_GET = "schedule_get", GET "/v2/schedules/{scheduleId}" [""], Short, "ScheduleClient.get";
    SCHEDULE_PUT = "schedule_put", PUT "/v2/schedules/{scheduleId}" [""], Short, "ScheduleClient.update";
    SCHEDULE_DELETE = "schedule_delete", DELETE "/v2/schedules/{scheduleId}" [""], Short, "ScheduleClient.delete";
    SCHEDULE_LOG_GET = "schedule_log_get", GET "/v2/schedules/{scheduleId}/log" ["log"], Medium, "ScheduleClient.get_log";
    // Store, logs, users
    STORE_GET = "store_get", GET "/v2/store" [""], Medium, "StoreCollectionClient.list";
    LOG_GET = "log_get", GET "/v2/logs/{buildOrRunId}" [""], Long, "LogClient.get";
    USER_GET = "user_get", GET "/v2/users/{userId}" [""], Short, "UserClient.get";
    USERS_ME_GET = "users_me_get", GET "/v2/users/me" [""], Short, "UserClient.get";
    USERS_ME_USAGE_MONTHLY_GET = "users_me_usage_monthly_get", GET "/v2/users/me/usage/monthly" ["usage/monthly"], Short, "UserClient.monthly_usage";
    USERS_ME_LIMITS_GET = "users_me_limits_get", GET "/v2/users/me/limits" ["limits"], Short, "UserClient.limits";
    USERS_ME_LIMITS_PUT = "users_me_limits_put", PUT "/v2/users/me/limits" ["limits"], Short, "UserClient.update_limits";
    // Tools
    TOOLS_BROWSER_INFO_GET = "tools_browser_info_get", GET "/v2/browser-info" ["browser-info"], Short, "ToolsClient.browser_info";
    TOOLS_BROWSER_INFO_POST = "tools_browser_info_post", POST "/v2/browser-info" ["browser-info"], Short, "ToolsClient.browser_info";
    TOOLS_BROWSER_INFO_PUT = "tools_browser_info_put", PUT "/v2/browser-info" ["browser-info"], Short, "ToolsClient.browser_info";
    TOOLS_BROWSER_INFO_DELETE = "tools_browser_info_delete", DELETE "/v2/browser-info" ["browser-info"], Short, "ToolsClient.browser_info";
    TOOLS_ENCODE_AND_SIGN_POST = "tools_encode_and_sign_post", POST "/v2/tools/encode-and-sign" ["tools/encode-and-sign"], Short, "ToolsClient.encode_and_sign";
    TOOLS_DECODE_AND_VERIFY_POST = "tools_decode_and_verify_post", POST "/v2/tools/decode-and-verify" ["tools/decode-and-verify"], Short, "ToolsClient.decode_and_verify";
}

/// The spec with this `operationId`.
pub fn find(id: &str) -> Option<&'static OpSpec> {
    ALL.iter().copied().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_tails_are_suffixes_of_paths() {
        let mut ids: Vec<_> = ALL.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        assert_eq!(ALL.len(), 133);
        for s in ALL {
            let tail: Vec<_> = s.tail_segments().collect();
            let path: Vec<_> = s.path.split('/').collect();
            // The tail's literal segments appear in the path in order (a record key or a
            // request ID may follow them).
            let mut rest = path.iter();
            for seg in &tail {
                assert!(rest.any(|p| p == seg), "{}: tail {:?} not in {}", s.id, s.tail, s.path);
            }
        }
        assert!(find("actors_runs_post").is_some());
        assert!(find("nope").is_none());
    }
}
