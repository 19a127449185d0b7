//! Actors, their versions and environment variables: `client.actors()`,
//! `client.actor(id)`, `actor.versions()`, `actor.version(n).env_vars()`. Method names follow
//! the official Python client.

use std::future::IntoFuture;

use super::base::{Base, resource_client};
use super::build::{BuildClient, BuildCollectionClient, BuildScope};
use super::builder::{CallBuilder, StreamCall};
use super::http::{BlockingHttpClient, BoxFuture, HttpClient};
use super::paginator::Paginator;
use super::run::{RunClient, RunCollectionClient, RunScope};
use super::run_sync::RunSyncItems;
use super::webhook::{WebhookCollectionClient, WebhookScope};
use crate::error::Error;
use crate::models::VersionSourceType;
use crate::ops::api::ApiOp;
use crate::ops::kinds::{
    CreateActor, CreateEnvVar, CreateVersion, DefaultBuild, Delete, GetActor, GetEnvVar, GetVersion, ListActors,
    ListEnvVars, ListVersions, RunCall, RunStart, RunSync, StartBuild, UpdateActor, UpdateEnvVar, UpdateVersion,
    ValidateInput,
};
use crate::ops::registry as r;

resource_client!(
    /// The Actor collection: `client.actors()`.
    ActorCollectionClient
);

impl<D> ActorCollectionClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// One page of Actors (`my`, `sort_by`, `offset`, `limit`, `desc`).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListActors>> {
        self.base.op(&r::ACTORS_GET)
    }

    /// Every Actor, page by page.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListActors>> {
        self.base.iterate(&r::ACTORS_GET)
    }

    /// Creates an Actor named `name` (further fields with the setters: `title`,
    /// `default_run_memory_mbytes`, `versions`, ...).
    pub fn create(&self, name: &str) -> CallBuilder<D, ApiOp<CreateActor>> {
        self.base.call(ApiOp::<CreateActor>::new(&r::ACTORS_POST).name(name))
    }
}

resource_client!(
    /// An Actor: `client.actor("username/name")` or by ID.
    ActorClient
);

impl<D> ActorClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// The Actor, or `None` if it does not exist.
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetActor>> {
        self.base.op(&r::ACTOR_GET)
    }

    /// Changes the fields set with the setters (`title`, `is_public`, `default_run_build`, ...).
    pub fn update(&self) -> CallBuilder<D, ApiOp<UpdateActor>> {
        self.base.op(&r::ACTOR_PUT)
    }

    /// Deletes the Actor (no error if it is already gone).
    pub fn delete(&self) -> CallBuilder<D, ApiOp<Delete>> {
        self.base.op(&r::ACTOR_DELETE)
    }

    /// Starts a run and returns it at once (`input`, `build`, `memory_mbytes`,
    /// `run_timeout`, `max_items`, `max_total_charge_usd`, `restart_on_error`, `webhooks`,
    /// `wait_for_finish`, `wait_for_resources`, ...).
    pub fn start(&self) -> CallBuilder<D, ApiOp<RunStart>> {
        self.base.op(&r::ACTORS_RUNS_POST)
    }

    /// Starts a run and waits for it to finish (`wait_duration` bounds the wait; then the
    /// run is returned as it is). `None` if the run disappeared.
    pub fn call(&self) -> CallBuilder<D, ApiOp<RunCall>> {
        self.base.op(&r::ACTORS_RUNS_POST)
    }

    /// Runs the Actor and returns its output record (`output_record_key`, default
    /// `OUTPUT`), in one request held open until the run ends (at most 300 s on the platform).
    pub fn run_sync(&self) -> CallBuilder<D, ApiOp<RunSync>> {
        self.base.op(&r::ACTOR_RUN_SYNC_POST)
    }

    /// Runs the Actor and streams the items of its default dataset, in one request held
    /// open until the run ends (`.items::<T>()` decodes them one by one).
    pub fn run_sync_get_dataset_items(&self) -> StreamCall<D, RunSyncItems> {
        StreamCall::new(self.base.call(RunSyncItems::new(&r::ACTOR_RUN_SYNC_GET_DATASET_ITEMS_POST)))
    }

    /// Builds version `version_number`.
    pub fn build(&self, version_number: &str) -> CallBuilder<D, ApiOp<StartBuild>> {
        self.base
            .call(ApiOp::<StartBuild>::new(&r::ACTORS_BUILDS_POST).query_param("version", &version_number.to_owned()))
    }

    /// The Actor's builds.
    pub fn builds(&self) -> BuildCollectionClient<D> {
        BuildCollectionClient::new(self.base.chained("builds"), BuildScope::Actor)
    }

    /// A build of this Actor by ID, through the Actor's (deprecated) build routes; prefer
    /// `client.build(id)`.
    pub fn build_by_id(&self, build_id: &str) -> BuildClient<D> {
        BuildClient::new(self.base.child("builds", build_id), BuildScope::Actor)
    }

    /// The Actor's runs.
    pub fn runs(&self) -> RunCollectionClient<D> {
        RunCollectionClient::new(self.base.chained("runs"), RunScope::Actor)
    }

    /// A run of this Actor by ID, through the Actor's run routes (`resurrect`, and the
    /// deprecated `get`, `abort`, `metamorph`); prefer `client.run(id)`.
    pub fn run(&self, run_id: &str) -> RunClient<D> {
        RunClient::new(self.base.child("runs", run_id), RunScope::Actor)
    }

    /// The Actor's default build (`.wait_for_finish(secs)`), as a client of that build.
    pub fn default_build(&self) -> DefaultBuildCall<D> {
        DefaultBuildCall { call: self.base.op(&r::ACTOR_BUILD_DEFAULT_GET), base: self.base.clone() }
    }

    /// The Actor's last run; `.status(..)` and `.origin(..)` filter which run counts, and
    /// every client chained from it (`dataset()`, `log()`, ...) inherits them.
    pub fn last_run(&self) -> RunClient<D> {
        RunClient::new(self.base.child("runs", "last"), RunScope::ActorLast)
    }

    /// The Actor's versions.
    pub fn versions(&self) -> ActorVersionCollectionClient<D> {
        ActorVersionCollectionClient { base: self.base.chained("versions") }
    }

    /// Version `version_number` (`0.1`).
    pub fn version(&self, version_number: &str) -> ActorVersionClient<D> {
        ActorVersionClient { base: self.base.child("versions", version_number) }
    }

    /// The Actor's webhooks.
    pub fn webhooks(&self) -> WebhookCollectionClient<D> {
        WebhookCollectionClient::new(self.base.chained("webhooks"), WebhookScope::Actor)
    }

    /// Validates an input against the Actor's input schema (`.input(..)`, `.build(..)`):
    /// `true`, or an API error describing what is wrong.
    pub fn validate_input(&self) -> CallBuilder<D, ApiOp<ValidateInput>> {
        self.base.op(&r::ACTOR_VALIDATE_INPUT_POST)
    }
}

/// `actor.default_build()`: reads the default build, then gives a client for it.
#[must_use = "a call does nothing until it is awaited or sent"]
#[derive(Debug)]
pub struct DefaultBuildCall<D> {
    call: CallBuilder<D, ApiOp<DefaultBuild>>,
    base: Base<D>,
}

impl<D> DefaultBuildCall<D> {
    /// Hold the request until the build finishes, at most this many seconds (≤ 60).
    pub fn wait_for_finish(self, secs: u64) -> Self {
        Self { call: self.call.wait_for_finish(secs), base: self.base }
    }

    /// The request it would send, built without sending it.
    pub fn request(&self) -> Result<crate::request::ApiRequest, Error> {
        self.call.request()
    }

    fn client(base: Base<D>, id: &str) -> BuildClient<D> {
        BuildClient::new(Base::resource(base.inner, "actor-builds", id), BuildScope::Global)
    }
}

impl<D: HttpClient> IntoFuture for DefaultBuildCall<D> {
    type Output = Result<BuildClient<D>, Error>;
    type IntoFuture = BoxFuture<'static, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let build = self.call.await?;
            Ok(Self::client(self.base, &build.id))
        })
    }
}

impl<D: BlockingHttpClient> DefaultBuildCall<D> {
    /// Runs the call on the blocking driver.
    pub fn send(self) -> Result<BuildClient<D>, Error> {
        let build = self.call.send()?;
        Ok(Self::client(self.base, &build.id))
    }
}

resource_client!(
    /// An Actor's versions: `actor.versions()`.
    ActorVersionCollectionClient
);

impl<D> ActorVersionCollectionClient<D> {
    /// Every version (one page: the list is not paginated).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListVersions>> {
        self.base.op(&r::ACTOR_VERSIONS_GET)
    }

    /// Every version, one by one.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListVersions>> {
        self.base.iterate(&r::ACTOR_VERSIONS_GET)
    }

    /// Creates version `version_number` with its source in `source_type`.
    pub fn create(&self, version_number: &str, source_type: VersionSourceType) -> CallBuilder<D, ApiOp<CreateVersion>> {
        let op = ApiOp::<CreateVersion>::new(&r::ACTOR_VERSIONS_POST)
            .body_field("versionNumber", version_number.into())
            .source_type(source_type);
        self.base.call(op)
    }
}

resource_client!(
    /// An Actor version: `actor.version("0.1")`.
    ActorVersionClient
);

impl<D> ActorVersionClient<D> {
    /// The version, or `None`.
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetVersion>> {
        self.base.op(&r::ACTOR_VERSION_GET)
    }

    /// Changes the fields set with the setters.
    pub fn update(&self) -> CallBuilder<D, ApiOp<UpdateVersion>> {
        self.base.op(&r::ACTOR_VERSION_PUT)
    }

    /// `update` sent as `POST` (the API's keyed POST variant).
    pub fn update_by_post(&self) -> CallBuilder<D, ApiOp<UpdateVersion>> {
        self.base.op(&r::ACTOR_VERSION_POST)
    }

    /// Deletes the version.
    pub fn delete(&self) -> CallBuilder<D, ApiOp<Delete>> {
        self.base.op(&r::ACTOR_VERSION_DELETE)
    }

    /// The version's environment variables.
    pub fn env_vars(&self) -> ActorEnvVarCollectionClient<D> {
        ActorEnvVarCollectionClient { base: self.base.chained("env-vars") }
    }

    /// Environment variable `name`.
    pub fn env_var(&self, name: &str) -> ActorEnvVarClient<D> {
        ActorEnvVarClient { base: self.base.child("env-vars", name) }
    }
}

resource_client!(
    /// A version's environment variables: `version.env_vars()`.
    ActorEnvVarCollectionClient
);

impl<D> ActorEnvVarCollectionClient<D> {
    /// Every variable (not paginated).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListEnvVars>> {
        self.base.op(&r::ACTOR_VERSION_ENV_VARS_GET)
    }

    /// Every variable, one by one.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListEnvVars>> {
        self.base.iterate(&r::ACTOR_VERSION_ENV_VARS_GET)
    }

    /// Creates variable `name` = `value` (`.is_secret(true)` hides it).
    pub fn create(&self, name: &str, value: &str) -> CallBuilder<D, ApiOp<CreateEnvVar>> {
        let op = ApiOp::<CreateEnvVar>::new(&r::ACTOR_VERSION_ENV_VARS_POST)
            .body_field("name", name.into())
            .body_field("value", value.into());
        self.base.call(op)
    }
}

resource_client!(
    /// An environment variable: `version.env_var("NAME")`.
    ActorEnvVarClient
);

impl<D> ActorEnvVarClient<D> {
    /// The variable, or `None`.
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetEnvVar>> {
        self.base.op(&r::ACTOR_VERSION_ENV_VAR_GET)
    }

    /// Sets the variable to `name` = `value` (as the Python client, both are required).
    pub fn update(&self, name: &str, value: &str) -> CallBuilder<D, ApiOp<UpdateEnvVar>> {
        self.base.call(Self::fields(&r::ACTOR_VERSION_ENV_VAR_PUT, name, value))
    }

    /// `update` sent as `POST` (the API's keyed POST variant).
    pub fn update_by_post(&self, name: &str, value: &str) -> CallBuilder<D, ApiOp<UpdateEnvVar>> {
        self.base.call(Self::fields(&r::ACTOR_VERSION_ENV_VAR_POST, name, value))
    }

    fn fields(spec: &'static crate::ops::registry::OpSpec, name: &str, value: &str) -> ApiOp<UpdateEnvVar> {
        ApiOp::new(spec).body_field("name", name.into()).body_field("value", value.into())
    }

    /// Deletes the variable.
    pub fn delete(&self) -> CallBuilder<D, ApiOp<Delete>> {
        self.base.op(&r::ACTOR_VERSION_ENV_VAR_DELETE)
    }
}
