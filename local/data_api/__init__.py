"""The RDS Data API on one machine: an HTTP endpoint that speaks the ``rds-data`` protocol over a real PostgreSQL.

boto3 reaches it through ``endpoint_url`` (or ``AWS_ENDPOINT_URL_RDS_DATA``), so the Data API client that runs
against Aurora Serverless v2 is the code that runs in tests and in ``make dev``. It follows the service's
documented behaviour for Aurora PostgreSQL (Serverless v2 / provisioned): request validation against botocore's
model, ``:name`` parameters with typed values and type hints, result encodings and column metadata, JSON result
sets, error shapes (SQL errors as ``DatabaseErrorException`` carrying PostgreSQL's message and SQLSTATE),
transactions that expire after three idle minutes or abort on an error, atomic batches, the 1 MiB response limit
and the statement timeout.

Where the documentation leaves a gap, this package is strict rather than lenient (it fails loudly), and says so
where it decides: see ``LocalDataApi``. Its modules, in the order a request meets them: ``server`` (HTTP),
``validation`` (against botocore's model), ``named_sql`` (``:name`` to ``$n``), ``parameters`` (typed binding),
``connections`` (the pool and the open transactions), ``results`` and ``times`` (values as the service prints
them), ``metadata`` (``columnMetadata``), ``errors``; ``endpoint`` holds ``LocalDataApi`` itself.
"""

from local.data_api.connections import Connection
from local.data_api.endpoint import (
    FORMATTED_RECORDS_LIMIT,
    REQUEST_LIMIT,
    RESPONSE_LIMIT,
    ROW_LIMIT,
    STATEMENT_TIMEOUT,
    TRANSACTION_IDLE_TIMEOUT,
    TRANSACTION_MAX_AGE,
    LocalDataApi,
)
from local.data_api.errors import DataApiError, error_status, format_postgres_error, service_model
from local.data_api.named_sql import NamedSql, parse_named_sql
from local.data_api.parameters import bind_parameters, typed_value
from local.data_api.results import (
    PgType,
    ResultOptions,
    encode_value,
    field_as_json,
    parse_array_literal,
    unsupported_type,
)
from local.data_api.server import ROUTES
from local.data_api.validation import validate_request

__all__ = [
    "FORMATTED_RECORDS_LIMIT",
    "REQUEST_LIMIT",
    "RESPONSE_LIMIT",
    "ROUTES",
    "ROW_LIMIT",
    "STATEMENT_TIMEOUT",
    "TRANSACTION_IDLE_TIMEOUT",
    "TRANSACTION_MAX_AGE",
    "Connection",
    "DataApiError",
    "LocalDataApi",
    "NamedSql",
    "PgType",
    "ResultOptions",
    "bind_parameters",
    "encode_value",
    "error_status",
    "field_as_json",
    "format_postgres_error",
    "parse_array_literal",
    "parse_named_sql",
    "service_model",
    "typed_value",
    "unsupported_type",
    "validate_request",
]
