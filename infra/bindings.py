"""Functions built from their specs (storage.json `functions`): each binding's variables and grants come together.

Why one place: a function's environment and its IAM grants used to be listed apart in the stack and had to agree
by hand. Here every entry of a spec goes to exactly one construct method, `bind`, which grants what the entry's
access level needs and returns the variables naming what it granted; nothing else sets a function's variables or
grants it a resource, so a variable without its grant (or a grant without its variable) cannot be written.

The spec is data (storage.json) rather than Python because both sides read it and neither may import the other:
infra reads the file by path, the runtime (ttai.layout) parses it for the local stack, which gives each function
only the variables its spec implies (tests/infra/test_local_parity.py compares the two whole).

Functions bound to another function (a lambda binding, a durable one to the durable host, a workflow one to the
workflow's function) are built after it: `functions` orders the specs so, and refuses a cycle.

A new binding type is one model in infra/storage_layout.py (and its parse in ttai.layout), one construct method
`bind(grantee, binding) -> variables`, and one case in `Bindings.bind` below; the local stack names its local
resource in local/stack.py's `binding_variables`.

A function whose spec names a `workflow` is that workflow's durable function (infra.constructs.workflows): the
stack builds those first, so that a Workflow binding of another function finds the alias it grants.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import ConfigError, EnvironmentConfig, FunctionSettings
from infra.constructs.ai import Embeddings
from infra.constructs.cache_table import CacheTable
from infra.constructs.database import Database
from infra.constructs.durable_objects import DurableObjects, grant_invoke
from infra.constructs.function import TtaiFunction
from infra.constructs.idempotency import IdempotencyTable
from infra.constructs.limits import LimitsTable
from infra.constructs.notifications import Notifications
from infra.constructs.queues import Queues
from infra.constructs.secrets import Secrets
from infra.constructs.storage import Storage
from infra.constructs.websocket_api import WebSocketApi
from infra.constructs.workflows import Workflows, durable_config
from infra.storage_layout import (
    AiBinding,
    Binding,
    D1Binding,
    DurableBinding,
    DurableHostBinding,
    EmailBinding,
    FunctionSpec,
    IdempotencyBinding,
    KvBinding,
    LambdaBinding,
    LimitsBinding,
    PushBinding,
    QueueBinding,
    R2Binding,
    VectorIndexSpec,
    VectorizeBinding,
    WebSocketBinding,
    WorkflowBinding,
)


@jsii.implements(cdk.IStableStringProducer)
class _Later:
    """A value known only once a later construct exists (the HTTP API's callback for the OAuth redirect)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self.value: str | None = None

    def produce(self) -> str | None:
        if self.value is None:
            msg = f"{self._what} was never given: the stack must call Bindings.oauth_redirect_to"
            raise ValueError(msg)
        return self.value


class TastyTradeVars:
    """The `tastytrade` vars: TastyTrade's OAuth endpoints for this environment (a token refresh needs them too),
    the redirect URI on this API (OAuthSettings names it; only signing in redirects to it) and its REST API."""

    AUTHORIZE_URL_ENV = "TTAI_OAUTH_AUTHORIZE_URL"
    TOKEN_URL_ENV = "TTAI_OAUTH_TOKEN_URL"  # noqa: S105 - the name of a variable, not a secret
    USERINFO_URL_ENV = "TTAI_OAUTH_USERINFO_URL"
    REDIRECT_URI_ENV = "TTAI_OAUTH_REDIRECT_URI"
    API_URL_ENV = "TTAI_TASTYTRADE_API_URL"

    def __init__(self, config: EnvironmentConfig) -> None:
        self._oauth = config.oauth
        self._api_url = config.tastytrade.api_url
        # The HTTP API integrates the functions, so it is built after them: the redirect URI resolves at synth.
        self._redirect = _Later("the OAuth redirect URI")

    def redirect_to(self, callback_url: str) -> None:
        self._redirect.value = callback_url

    def variables(self) -> dict[str, str]:
        return {
            self.AUTHORIZE_URL_ENV: self._oauth.authorize_url,
            self.TOKEN_URL_ENV: self._oauth.token_url,
            self.USERINFO_URL_ENV: self._oauth.userinfo_url,
            self.REDIRECT_URI_ENV: cdk.Lazy.string(self._redirect),
            self.API_URL_ENV: self._api_url,
        }


class Bindings:
    """The stack's bindable resources; `function(spec)` builds a function with its variables and grants."""

    def __init__(
        self,
        *,
        config: EnvironmentConfig,
        root: Path,
        shared_layer: lambda_.ILayerVersion,
        extra_layers: Mapping[str, lambda_.ILayerVersion],
        cache: CacheTable,
        database: Database,
        storage: Storage,
        queues: Queues,
        idempotency: IdempotencyTable,
        limits: LimitsTable,
        notifications: Notifications,
        secrets: Secrets,
        workflows: Workflows,
        embeddings: Embeddings,
        vector_indexes: Mapping[str, VectorIndexSpec],
        durable: DurableObjects,
        websocket: WebSocketApi,
    ) -> None:
        self._config = config
        self._root = root
        self._shared_layer = shared_layer
        self._extra_layers = dict(extra_layers)
        self._cache = cache
        self._database = database
        self._storage = storage
        self._queues = queues
        self._idempotency = idempotency
        self._limits = limits
        self._notifications = notifications
        self._secrets = secrets
        self._workflows = workflows
        self._embeddings = embeddings
        self._vector_indexes = dict(vector_indexes)
        self._tastytrade = TastyTradeVars(config)
        self._durable = durable
        self._websocket = websocket
        self._built: dict[str, TtaiFunction] = {}

    def functions(self, scope: Construct, specs: Mapping[str, FunctionSpec]) -> dict[str, TtaiFunction]:
        """Every spec's function, each built after the functions it binds to; in the specs' order."""
        pending = dict(specs)
        while pending:
            ready = [
                spec for spec in pending.values() if all(dep in self._built for dep in self._depends_on(spec, specs))
            ]
            if not ready:
                msg = f"storage.json: functions {sorted(pending)} bind to each other in a cycle"
                raise ConfigError(msg)
            for spec in ready:
                self._built[spec.name] = self.function(scope, spec)
                del pending[spec.name]
        return {name: self._built[name] for name in specs}

    @staticmethod
    def _depends_on(spec: FunctionSpec, specs: Mapping[str, FunctionSpec]) -> set[str]:
        depends = {binding.function for binding in spec.bindings_of(LambdaBinding).values()}
        # A Workflow binding grants the alias of the function that runs that workflow.
        depends |= {other.name for other in specs.values() if other.workflow in spec.bindings_of(WorkflowBinding)}
        if spec.bindings_of(DurableBinding):
            depends |= {other.name for other in specs.values() if other.bindings_of(DurableHostBinding)}
        return depends

    def function(self, scope: Construct, spec: FunctionSpec) -> TtaiFunction:
        """The function `spec` declares (construct id: its name in CamelCase), bound to what the spec says only."""
        function = TtaiFunction(
            scope,
            "".join(part.capitalize() for part in spec.name.split("_")),
            spec=spec,
            config=self._config,
            settings=self._settings(spec),
            layers=[self._shared_layer, *(self._layer(spec, group) for group in spec.layers)],
            root=self._root,
            durable_config=durable_config(self._config) if spec.workflow else None,
        )
        variables: dict[str, str] = {}
        if spec.workflow:
            variables |= self._workflows.add(function)
        for name, binding in spec.bindings.items():
            variables |= self.bind(function.function, name, binding)
        variables |= self._secrets.bind(function.function, *spec.secrets)
        if "tastytrade" in spec.vars:
            variables |= self._tastytrade.variables()
        for variable, value in variables.items():
            function.function.add_environment(variable, value)
        if spec.consumes:
            self._queues.add_consumer(function, *spec.consumes)
        if spec.bindings_of(DurableHostBinding):
            self._durable.add_host(function)
        return function

    def bind(self, grantee: iam.IGrantable, name: str, binding: Binding) -> dict[str, str]:  # noqa: PLR0911 - a case a type
        """Grant `binding`'s access to `grantee` and return the variables that name what was granted."""
        match binding:
            case KvBinding():
                return self._cache.bind(grantee, binding)
            case D1Binding():
                return self._database.bind(grantee, binding)
            case R2Binding():
                return self._storage.bind(grantee, binding)
            case QueueBinding():
                return self._queues.bind(grantee, name, binding)
            case IdempotencyBinding():
                return self._idempotency.bind(grantee, binding)
            case LimitsBinding():
                return self._limits.bind(grantee, binding)
            case PushBinding():
                return self._notifications.bind_push(grantee, binding)
            case EmailBinding():
                return self._notifications.bind_email(grantee, binding)
            case WorkflowBinding():
                return self._workflows.bind(grantee, name, binding)
            case VectorizeBinding():
                return self._database.bind_vectorize(grantee, binding, self._vector_indexes[binding.index])
            case AiBinding():
                return self._embeddings.bind(grantee, binding)
            case DurableHostBinding() | DurableBinding() | WebSocketBinding() | LambdaBinding():
                return self._bind_realtime(grantee, name, binding)

    def _bind_realtime(
        self,
        grantee: iam.IGrantable,
        name: str,
        binding: DurableHostBinding | DurableBinding | WebSocketBinding | LambdaBinding,
    ) -> dict[str, str]:
        """Durable Objects, the WebSocket API and function invokes."""
        match binding:
            case DurableHostBinding():
                return self._durable.bind_host(grantee, binding)
            case DurableBinding():
                return self._durable.bind_call(grantee, name, binding, self._host().function)
            case WebSocketBinding():
                return self._websocket.bind(grantee, binding)
            case LambdaBinding():
                target = self._built[binding.function].function
                grant_invoke(grantee, target)
                return {f"TTAI_{name}_FUNCTION": target.function_name}

    def _host(self) -> TtaiFunction:
        [host] = [f for f in self._built.values() if f.spec.bindings_of(DurableHostBinding)]
        return host

    def oauth_redirect_to(self, callback_url: str) -> None:
        """Where TastyTrade sends the browser back, for every function with the tastytrade vars."""
        self._tastytrade.redirect_to(callback_url)

    def _settings(self, spec: FunctionSpec) -> FunctionSettings:
        settings = getattr(self._config.functions, spec.name, None)
        if not isinstance(settings, FunctionSettings):
            msg = f"cdk.json: environment {self._config.name} has no functions.{spec.name} (memory_mb, timeout_seconds)"
            raise ConfigError(msg)
        return settings

    def _layer(self, spec: FunctionSpec, group: str) -> lambda_.ILayerVersion:
        if group not in self._extra_layers:
            msg = f"storage.json: function {spec.name} names layer {group!r}, which infra builds no layer for"
            raise ConfigError(msg)
        return self._extra_layers[group]
