"""The local RDS Data API endpoint, driven by a real boto3 ``rds-data`` client over a real PostgreSQL.

What the documentation says the service does is what these tests hold the endpoint to: value encodings both
ways, result metadata and JSON result sets, transactions (commit, rollback, expiry, abort on error), atomic
batches, error shapes, request validation, the response size limit and the statement timeout.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config

from local.data_api import LocalDataApi
from local.postgres import EmbeddedPostgres

CLUSTER = "arn:aws:rds:us-east-1:000000000000:cluster:ttai-local"
SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:ttai-local-AbCdEf"
IDLE_TIMEOUT = 1.0  # seconds; the service's is three minutes
STATEMENT_TIMEOUT = 1.0  # seconds; the service's is 45
SLOW_INSERT = "INSERT INTO items SELECT 1, 'slow' FROM pg_sleep(:seconds)"

Call = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def postgres() -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres() as server:
        yield server


@pytest.fixture(scope="module")
def database_uri(postgres: EmbeddedPostgres) -> str:
    return postgres.create_database("app")


@pytest.fixture(scope="module")
def api(database_uri: str) -> Iterator[LocalDataApi]:
    with LocalDataApi(
        {"app": database_uri},
        cluster_arn=CLUSTER,
        secret_arn=SECRET,
        transaction_timeout=IDLE_TIMEOUT,
        statement_timeout=STATEMENT_TIMEOUT,
    ) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def client(api: LocalDataApi) -> Any:
    return boto3.client(
        "rds-data",
        endpoint_url=api.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def sql(client: Any) -> Call:
    """ExecuteStatement on database "app" with the right ARNs; the response without its metadata."""

    def call(statement: str, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = client.execute_statement(
            resourceArn=CLUSTER, secretArn=SECRET, database="app", sql=statement, **params
        )
        response.pop("ResponseMetadata")
        return response

    return call


@pytest.fixture(scope="module")
def call(client: Any) -> Call:
    """Any operation by its boto3 name, with the ARNs filled in."""

    def invoke(operation: str, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = getattr(client, operation)(resourceArn=CLUSTER, secretArn=SECRET, **params)
        response.pop("ResponseMetadata")
        return response

    return invoke


@pytest.fixture
def items(sql: Call) -> None:
    """``items (id int primary key, name text)``, empty: tests in a module run one at a time."""
    sql("DROP TABLE IF EXISTS items")
    sql("CREATE TABLE items (id int PRIMARY KEY, name text)")


def param(name: str, hint: str | None = None, **value: Any) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "value": value}
    if hint:
        parameter["typeHint"] = hint
    return parameter


def count(sql: Call) -> int:
    return int(sql("SELECT count(*) FROM items")["records"][0][0]["longValue"])


def raw_post(api: LocalDataApi, path: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """A request as it arrives on the wire, for what boto3 refuses to send (it validates client-side)."""
    request = urllib.request.Request(  # noqa: S310 - the local endpoint, plain http on 127.0.0.1
        api.endpoint_url + path, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def valid_execute(**overrides: Any) -> bytes:
    request = {"resourceArn": CLUSTER, "secretArn": SECRET, "database": "app", "sql": "SELECT 1", **overrides}
    return json.dumps({k: v for k, v in request.items() if v is not None}).encode()


# ------------------------------------------------------------------ values both ways


def test_every_value_type_round_trips_with_the_documented_encoding(sql: Call) -> None:
    sql("DROP TABLE IF EXISTS everything")
    sql(
        "CREATE TABLE everything (t text, i int4, big int8, f float8, n numeric(12, 2), b bool, missing text, "
        "doc jsonb, at timestamptz, d date, tm time, u uuid, data bytea)"
    )
    blob = bytes(range(256))
    inserted = sql(
        "INSERT INTO everything VALUES (:t, :i, :big, :f, :n, :b, :missing, :doc, :at, :d, :tm, :u, :data)",
        parameters=[
            param("t", stringValue="héllo ✓"),
            param("i", longValue=-42),
            param("big", longValue=2**62 + 1),
            param("f", doubleValue=2.5),
            param("n", "DECIMAL", stringValue="1234.50"),
            param("b", booleanValue=True),
            param("missing", isNull=True),
            param("doc", "JSON", stringValue='{"a": [1, 2, {"b": null}]}'),
            param("at", "TIMESTAMP", stringValue="2024-01-15 13:45:30.123456"),
            param("d", "DATE", stringValue="2024-02-29"),
            param("tm", "TIME", stringValue="23:59:58.5"),
            param("u", "UUID", stringValue="123e4567-e89b-12d3-a456-426614174000"),
            param("data", blobValue=blob),
        ],
    )
    assert inserted == {"numberOfRecordsUpdated": 1, "generatedFields": []}

    (record,) = sql("SELECT * FROM everything")["records"]

    assert record == [
        {"stringValue": "héllo ✓"},
        {"longValue": -42},
        {"longValue": 2**62 + 1},
        {"doubleValue": 2.5},
        {"stringValue": "1234.50"},
        {"booleanValue": True},
        {"isNull": True},
        {"stringValue": '{"a": [1, 2, {"b": null}]}'},
        {"stringValue": "2024-01-15 13:45:30.123456"},
        {"stringValue": "2024-02-29"},
        {"stringValue": "23:59:58.5"},
        {"stringValue": "123e4567-e89b-12d3-a456-426614174000"},
        {"blobValue": blob},
    ]


def test_timestamptz_comes_back_as_utc_wall_clock_without_an_offset(sql: Call) -> None:
    (record,) = sql("SELECT '2024-01-15 12:34:56+09'::timestamptz, '2024-01-15 12:34:56.5-02:30'::timestamptz")[
        "records"
    ]

    assert record == [{"stringValue": "2024-01-15 03:34:56"}, {"stringValue": "2024-01-15 15:04:56.5"}]


def test_arrays_in_results_use_the_array_value_members(sql: Call) -> None:
    (record,) = sql(
        "SELECT ARRAY[1, NULL, 3]::int8[], ARRAY[1.5, 2]::float8[], ARRAY[true, false], "
        "ARRAY['a', 'b \"c\"', NULL]::text[], ARRAY[]::int4[]"
    )["records"]

    assert record == [
        {"arrayValue": {"longValues": [1, None, 3]}},
        {"arrayValue": {"doubleValues": [1.5, 2.0]}},
        {"arrayValue": {"booleanValues": [True, False]}},
        {"arrayValue": {"stringValues": ["a", 'b "c"', None]}},
        {"arrayValue": {"longValues": []}},
    ]


def test_result_set_options_change_how_decimals_and_longs_come_back(sql: Call) -> None:
    statement = "SELECT 7::numeric, 7.25::numeric(5, 2), 9007199254740993::int8"

    (default,) = sql(statement)["records"]
    (changed,) = sql(statement, resultSetOptions={"decimalReturnType": "DOUBLE_OR_LONG", "longReturnType": "STRING"})[
        "records"
    ]

    assert default == [{"stringValue": "7"}, {"stringValue": "7.25"}, {"longValue": 9007199254740993}]
    assert changed == [{"longValue": 7}, {"doubleValue": 7.25}, {"stringValue": "9007199254740993"}]


def test_a_plain_string_is_bound_as_varchar_so_a_jsonb_column_needs_the_json_hint(sql: Call, client: Any) -> None:
    sql("DROP TABLE IF EXISTS documents")
    sql("CREATE TABLE documents (doc jsonb)")

    with pytest.raises(client.exceptions.DatabaseErrorException) as raised:
        sql("INSERT INTO documents VALUES (:doc)", parameters=[param("doc", stringValue="{}")])

    message = raised.value.response["Error"]["Message"]
    assert 'column "doc" is of type jsonb but expression is of type character varying' in message
    assert message.endswith("; SQLState: 42804")


def test_a_hinted_string_must_be_in_the_documented_format(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.BadRequestException, match="TIMESTAMP"):
        sql("SELECT :at", parameters=[param("at", "TIMESTAMP", stringValue="2024-01-15T13:45:30Z")])


def test_array_parameters_are_refused(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.BadRequestException, match="array parameters are not supported"):
        sql("SELECT :ids", parameters=[param("ids", arrayValue={"longValues": [1, 2]})])


def test_types_the_service_cannot_return_fail_the_call(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.UnsupportedResultException, match="interval"):
        sql("SELECT interval '1 day'")
    with pytest.raises(client.exceptions.UnsupportedResultException, match="multidimensional"):
        sql("SELECT ARRAY[[1, 2], [3, 4]]")

    assert sql("SELECT (interval '1 day')::text")["records"] == [[{"stringValue": "1 day"}]]


# ------------------------------------------------------------------ result shapes


def test_column_metadata_names_postgresql_types(sql: Call) -> None:
    sql("DROP TABLE IF EXISTS priced")
    sql("CREATE TABLE priced (id serial PRIMARY KEY, price numeric(10, 2) NOT NULL, note text, tags int4[])")
    sql("INSERT INTO priced (price, note, tags) VALUES (1.5, 'x', '{1,2}')")

    response = sql("SELECT id, price, note, tags, now() AS at FROM priced", includeResultMetadata=True)

    by_name = {column["name"]: column for column in response["columnMetadata"]}
    assert [c["label"] for c in response["columnMetadata"]] == ["id", "price", "note", "tags", "at"]
    assert by_name["id"]["typeName"] == "serial"
    assert by_name["id"]["isAutoIncrement"] is True
    assert by_name["id"]["nullable"] == 0
    assert (by_name["price"]["typeName"], by_name["price"]["precision"], by_name["price"]["scale"]) == (
        "numeric",
        10,
        2,
    )
    assert by_name["price"]["nullable"] == 0
    assert (by_name["note"]["typeName"], by_name["note"]["nullable"]) == ("text", 1)
    assert (by_name["tags"]["typeName"], by_name["tags"]["type"]) == ("_int4", 2003)
    assert by_name["at"]["typeName"] == "timestamptz"
    assert by_name["note"]["tableName"] == "priced"
    assert by_name["at"]["tableName"] == ""
    assert "columnMetadata" not in sql("SELECT id FROM priced")


def test_format_records_as_json_returns_a_json_string_and_no_records(sql: Call) -> None:
    response = sql(
        "SELECT 1 AS id, 'a' AS name, 2.50::numeric AS price, true AS ok, NULL AS nothing, ARRAY[1, 2] AS ids, "
        "'\\x0102'::bytea AS data",
        formatRecordsAs="JSON",
        includeResultMetadata=True,
    )

    assert set(response) == {"formattedRecords", "numberOfRecordsUpdated"}
    assert json.loads(response["formattedRecords"]) == [
        {"id": 1, "name": "a", "price": "2.50", "ok": True, "nothing": None, "ids": [1, 2], "data": "AQI="}
    ]


@pytest.mark.usefixtures("items")
def test_format_records_as_json_is_ignored_for_statements_without_rows(sql: Call) -> None:
    response = sql("INSERT INTO items VALUES (1, 'a')", formatRecordsAs="JSON")

    assert response == {"numberOfRecordsUpdated": 1, "generatedFields": []}


@pytest.mark.usefixtures("items")
def test_number_of_records_updated_counts_dml_rows_and_is_zero_otherwise(sql: Call) -> None:
    assert sql("INSERT INTO items SELECT g, 'n' FROM generate_series(1, 3) g")["numberOfRecordsUpdated"] == 3
    assert sql("UPDATE items SET name = 'm' WHERE id > 1")["numberOfRecordsUpdated"] == 2
    assert sql("SELECT * FROM items")["numberOfRecordsUpdated"] == 0
    returning = sql("DELETE FROM items WHERE id = 1 RETURNING id")
    assert returning == {"records": [[{"longValue": 1}]], "numberOfRecordsUpdated": 1}
    assert sql("ALTER TABLE items ADD COLUMN extra int") == {"numberOfRecordsUpdated": 0, "generatedFields": []}


# ------------------------------------------------------------------ parameters and SQL text


@pytest.mark.usefixtures("items")
def test_injection_attempts_in_parameters_stay_data(sql: Call) -> None:
    attack = "x'); DROP TABLE items; --"

    sql("INSERT INTO items VALUES (1, :name)", parameters=[param("name", stringValue=attack)])

    assert sql("SELECT name FROM items")["records"] == [[{"stringValue": attack}]]


def test_colons_in_literals_identifiers_comments_and_casts_are_not_parameters(sql: Call) -> None:
    response = sql(
        "SELECT ':notparam' AS a, :p::text AS b, $$ :also_not $$ AS c, E'it\\'s :no' AS d, 1 AS \":q\" "
        "-- :comment\n /* :block /* :nested */ */",
        parameters=[param("p", longValue=5)],
        includeResultMetadata=True,
    )

    assert response["records"] == [
        [
            {"stringValue": ":notparam"},
            {"stringValue": "5"},
            {"stringValue": " :also_not "},
            {"stringValue": "it's :no"},
            {"longValue": 1},
        ]
    ]
    assert response["columnMetadata"][4]["name"] == ":q"


def test_a_name_used_twice_binds_the_same_value(sql: Call) -> None:
    response = sql("SELECT :v::int + :v::int", parameters=[param("v", longValue=21)])

    assert response["records"] == [[{"longValue": 42}]]


def test_a_passed_parameter_inside_dollar_quotes_is_refused(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.BadRequestException, match="dollar-quoted"):
        sql("SELECT $$ :p $$", parameters=[param("p", longValue=1)])


@pytest.mark.usefixtures("items")
def test_several_statements_in_one_call_are_refused(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.DatabaseErrorException, match="SQLState: 42601"):
        sql("INSERT INTO items VALUES (1, 'a'); INSERT INTO items VALUES (2, 'b')")

    assert count(sql) == 0


def test_session_state_does_not_outlive_a_call(sql: Call) -> None:
    sql("SET TIME ZONE 'Asia/Tokyo'")
    sql("CREATE TEMP TABLE scratch (x int)")

    assert sql("SELECT current_setting('TimeZone')")["records"] == [[{"stringValue": "UTC"}]]
    assert sql("SELECT to_regclass('pg_temp.scratch') IS NULL")["records"] == [[{"booleanValue": True}]]


# ------------------------------------------------------------------ errors


@pytest.mark.usefixtures("items")
def test_a_sql_error_carries_postgresqls_message_detail_and_sqlstate(sql: Call, client: Any) -> None:
    sql("INSERT INTO items VALUES (1, 'a')")

    with pytest.raises(client.exceptions.DatabaseErrorException) as raised:
        sql("INSERT INTO items VALUES (1, 'b')")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == (
        'ERROR: duplicate key value violates unique constraint "items_pkey"\n'
        "  Detail: Key (id)=(1) already exists.; SQLState: 23505"
    )


def test_a_syntax_error_reports_its_position(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.DatabaseErrorException) as raised:
        sql("SELEC 1")

    message = raised.value.response["Error"]["Message"]
    assert message.startswith('ERROR: syntax error at or near "SELEC"\n  Position: 1')
    assert message.endswith("SQLState: 42601")


def test_a_wrong_cluster_arn_is_refused(client: Any) -> None:
    with pytest.raises(client.exceptions.HttpEndpointNotEnabledException):
        client.execute_statement(resourceArn=CLUSTER + "x", secretArn=SECRET, database="app", sql="SELECT 1")


def test_a_wrong_secret_arn_is_refused(client: Any) -> None:
    with pytest.raises(client.exceptions.SecretsErrorException):
        client.execute_statement(resourceArn=CLUSTER, secretArn=SECRET + "x", database="app", sql="SELECT 1")


def test_an_unknown_database_is_postgresqls_error(client: Any) -> None:
    with pytest.raises(client.exceptions.DatabaseErrorException, match=r'database "nope" does not exist.*3D000'):
        client.execute_statement(resourceArn=CLUSTER, secretArn=SECRET, database="nope", sql="SELECT 1")


def test_a_database_that_cannot_be_reached_is_unavailable() -> None:
    with LocalDataApi(
        {"gone": "postgresql://postgres@/gone?host=/nonexistent-socket-dir"}, cluster_arn=CLUSTER, secret_arn=SECRET
    ) as unreachable:
        quick = boto3.client(
            "rds-data",
            endpoint_url=unreachable.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"total_max_attempts": 1}),
        )
        with pytest.raises(quick.exceptions.DatabaseUnavailableException) as raised:
            quick.execute_statement(resourceArn=CLUSTER, secretArn=SECRET, database="gone", sql="SELECT 1")

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 504


def test_the_schema_parameter_is_refused(client: Any) -> None:
    with pytest.raises(client.exceptions.BadRequestException, match="schema"):
        client.execute_statement(resourceArn=CLUSTER, secretArn=SECRET, database="app", schema="public", sql="SELECT 1")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (valid_execute(sql=None), "sql: required member is missing"),
        (
            valid_execute(parameters=[{"name": "a", "value": {"stringValue": "x"}, "typeHint": "TEXT"}]),
            "parameters[0].typeHint: 'TEXT' is not one of",
        ),
        (
            valid_execute(parameters=[{"name": "a", "value": {"stringValue": "x", "longValue": 1}}]),
            "parameters[0].value: exactly one of",
        ),
        (valid_execute(includeResultMetadata="yes"), "includeResultMetadata: expected a boolean"),
        (valid_execute(resourceArn="arn:short"), "resourceArn: length 9 is below the minimum of 11"),
        (valid_execute(database="d" * 65), "database: length 65 is above the maximum of 64"),
        (valid_execute(formatRecordsAs="CSV"), "formatRecordsAs: 'CSV' is not one of NONE, JSON"),
        (valid_execute(includeMetadata=True), "includeMetadata: unknown member"),
        (b"{not json", "not JSON"),
    ],
)
def test_requests_that_break_the_model_are_bad_requests(api: LocalDataApi, body: bytes, expected: str) -> None:
    status, headers, payload = raw_post(api, "/Execute", body)

    assert status == 400
    assert headers["x-amzn-ErrorType"] == "BadRequestException"
    assert expected in payload["message"]


def test_an_unknown_operation_is_404(api: LocalDataApi) -> None:
    status, headers, _ = raw_post(api, "/ExecuteSql", b"{}")

    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")


# ------------------------------------------------------------------ limits and timeouts


def test_a_result_over_one_mib_is_an_error_not_a_truncation(sql: Call, client: Any) -> None:
    under = sql("SELECT repeat('x', 60000) FROM generate_series(1, 17)")
    with pytest.raises(client.exceptions.UnsupportedResultException, match="size limit"):
        sql("SELECT repeat('x', 60000) FROM generate_series(1, 18)")

    assert len(under["records"]) == 17


def test_a_row_over_64_kb_is_an_error(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.UnsupportedResultException, match="too large"):
        sql("SELECT repeat('x', 40000), repeat('y', 40000)")


@pytest.mark.usefixtures("items")
def test_a_statement_over_the_timeout_is_cancelled(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.StatementTimeoutException) as raised:
        sql(SLOW_INSERT, parameters=[param("seconds", doubleValue=STATEMENT_TIMEOUT + 0.5)])

    assert raised.value.response["dbConnectionId"] > 0
    assert count(sql) == 0


@pytest.mark.usefixtures("items")
def test_continue_after_timeout_reports_the_timeout_but_finishes_the_statement(sql: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.StatementTimeoutException):
        sql(SLOW_INSERT, parameters=[param("seconds", doubleValue=STATEMENT_TIMEOUT + 0.3)], continueAfterTimeout=True)

    deadline = time.monotonic() + 5
    while count(sql) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(sql) == 1


def test_a_paused_cluster_answers_database_resuming_until_it_is_up(api: LocalDataApi, sql: Call, client: Any) -> None:
    before = api.requests["ExecuteStatement"]
    api.pause(2)

    for _ in range(2):
        with pytest.raises(client.exceptions.DatabaseResumingException) as raised:
            sql("SELECT 1")
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    assert sql("SELECT 1")["records"] == [[{"longValue": 1}]]
    assert api.requests["ExecuteStatement"] - before == 3


# ------------------------------------------------------------------ transactions


@pytest.mark.usefixtures("items")
def test_a_committed_transaction_is_visible_and_isolated_until_then(sql: Call, call: Call) -> None:
    transaction = call("begin_transaction", database="app")["transactionId"]
    sql("INSERT INTO items VALUES (1, 'a')", transactionId=transaction)
    inside = sql("SELECT count(*) FROM items", transactionId=transaction)["records"]

    assert inside == [[{"longValue": 1}]]
    assert count(sql) == 0
    assert call("commit_transaction", transactionId=transaction) == {"transactionStatus": "Transaction Committed"}
    assert count(sql) == 1


@pytest.mark.usefixtures("items")
def test_a_rolled_back_transaction_leaves_nothing(sql: Call, call: Call) -> None:
    transaction = call("begin_transaction", database="app")["transactionId"]
    sql("INSERT INTO items VALUES (1, 'a')", transactionId=transaction)

    assert call("rollback_transaction", transactionId=transaction) == {"transactionStatus": "Rollback Complete"}
    assert count(sql) == 0


def test_unknown_and_ended_transactions_are_not_found(sql: Call, call: Call, client: Any) -> None:
    with pytest.raises(client.exceptions.TransactionNotFoundException) as unknown:
        sql("SELECT 1", transactionId="no-such-transaction")
    transaction = call("begin_transaction", database="app")["transactionId"]
    call("commit_transaction", transactionId=transaction)
    with pytest.raises(client.exceptions.TransactionNotFoundException, match="already committed or rolled it back"):
        call("rollback_transaction", transactionId=transaction)

    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.usefixtures("items")
def test_an_error_inside_a_transaction_aborts_it(sql: Call, call: Call, client: Any) -> None:
    transaction = call("begin_transaction", database="app")["transactionId"]
    sql("INSERT INTO items VALUES (1, 'a')", transactionId=transaction)
    with pytest.raises(client.exceptions.DatabaseErrorException):
        sql("INSERT INTO items VALUES (1, 'again')", transactionId=transaction)

    with pytest.raises(client.exceptions.TransactionNotFoundException, match="error in a previous call"):
        call("commit_transaction", transactionId=transaction)
    assert count(sql) == 0


@pytest.mark.usefixtures("items")
def test_an_idle_transaction_expires_and_is_rolled_back(sql: Call, call: Call, client: Any) -> None:
    transaction = call("begin_transaction", database="app")["transactionId"]
    sql("INSERT INTO items VALUES (1, 'a')", transactionId=transaction)
    time.sleep(IDLE_TIMEOUT + 0.3)

    with pytest.raises(client.exceptions.TransactionNotFoundException, match="expired"):
        sql("SELECT * FROM items", transactionId=transaction)
    assert count(sql) == 0


@pytest.mark.usefixtures("items")
def test_an_expired_transaction_releases_its_locks_without_being_named_again(
    api: LocalDataApi, sql: Call, call: Call
) -> None:
    sql("INSERT INTO items VALUES (1, 'a')")
    transaction = call("begin_transaction", database="app")["transactionId"]
    sql("UPDATE items SET name = 'locked' WHERE id = 1", transactionId=transaction)

    deadline = time.monotonic() + IDLE_TIMEOUT + 2
    while api.open_transactions and time.monotonic() < deadline:
        time.sleep(0.05)

    assert api.open_transactions == 0
    # Would wait on the row lock (and hit the statement timeout) if the transaction were still open.
    assert sql("UPDATE items SET name = 'free' WHERE id = 1")["numberOfRecordsUpdated"] == 1


def test_a_transaction_busy_with_a_call_refuses_another(sql: Call, call: Call, client: Any) -> None:
    transaction = call("begin_transaction", database="app")["transactionId"]
    slow = threading.Thread(target=sql, args=("SELECT pg_sleep(0.5)",), kwargs={"transactionId": transaction})
    slow.start()
    time.sleep(0.15)
    try:
        with pytest.raises(client.exceptions.DatabaseErrorException, match="still running a query"):
            sql("SELECT 1", transactionId=transaction)
    finally:
        slow.join()
    assert call("commit_transaction", transactionId=transaction)["transactionStatus"] == "Transaction Committed"


# ------------------------------------------------------------------ batches


@pytest.mark.usefixtures("items")
def test_a_batch_runs_once_per_parameter_set(call: Call, sql: Call) -> None:
    response = call(
        "batch_execute_statement",
        database="app",
        sql="INSERT INTO items VALUES (:id, :name)",
        parameterSets=[[param("id", longValue=i), param("name", stringValue=f"n{i}")] for i in range(3)],
    )

    assert response == {"updateResults": [{"generatedFields": []}] * 3}
    assert sql("SELECT name FROM items ORDER BY id")["records"] == [
        [{"stringValue": "n0"}],
        [{"stringValue": "n1"}],
        [{"stringValue": "n2"}],
    ]


@pytest.mark.usefixtures("items")
def test_a_batch_outside_a_transaction_is_all_or_nothing(call: Call, sql: Call, client: Any) -> None:
    sets = [[param("id", longValue=i)] for i in (1, 2, 2)]

    with pytest.raises(client.exceptions.DatabaseErrorException, match="23505"):
        call("batch_execute_statement", database="app", sql="INSERT INTO items VALUES (:id, 'x')", parameterSets=sets)

    assert count(sql) == 0


@pytest.mark.usefixtures("items")
def test_a_batch_without_parameter_sets_runs_nothing(call: Call, sql: Call) -> None:
    response = call("batch_execute_statement", database="app", sql="INSERT INTO items VALUES (1, 'x')")

    assert response == {"updateResults": []}
    assert count(sql) == 0


@pytest.mark.usefixtures("items")
def test_a_batch_in_a_transaction_follows_the_transaction(call: Call, sql: Call) -> None:
    transaction = call("begin_transaction", database="app")["transactionId"]
    call(
        "batch_execute_statement",
        sql="INSERT INTO items VALUES (:id, 'x')",
        parameterSets=[[param("id", longValue=1)], [param("id", longValue=2)]],
        transactionId=transaction,
    )
    assert count(sql) == 0

    call("rollback_transaction", transactionId=transaction)
    assert count(sql) == 0


# ------------------------------------------------------------------ the PostgreSQL behind it


def test_database_url_gives_each_instance_databases_of_its_own(postgres: EmbeddedPostgres) -> None:
    with EmbeddedPostgres(database_url=postgres.uri) as first, EmbeddedPostgres(database_url=postgres.uri) as second:
        first_uri, second_uri = first.create_database("app"), second.create_database("app")
        names: list[str] = []
        for uri in (first_uri, second_uri):
            with psycopg.connect(uri) as conn:
                row = conn.execute("SELECT current_database()").fetchone()
                assert row is not None
                names.append(row[0])

    first_name, second_name = names
    assert first_name != second_name
    assert first_name.endswith("_app")
    with psycopg.connect(postgres.uri) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = ANY(%s)", ([first_name, second_name],))
        assert left.fetchone() == (0,)


def test_blob_values_cross_as_base64_on_the_wire(api: LocalDataApi) -> None:
    body = valid_execute(sql="SELECT :b", parameters=[{"name": "b", "value": {"blobValue": "AAH/"}}])

    status, _, payload = raw_post(api, "/Execute", body)

    assert status == 200
    assert payload["records"] == [[{"blobValue": base64.b64encode(b"\x00\x01\xff").decode()}]]
