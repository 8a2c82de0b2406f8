"""The local Data API's pure parts (no sockets, no database): SQL parameter rewriting, request validation,
parameter typing, result encoding, PostgreSQL error text, and the error responses botocore reads."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore import parsers

from local.data_api import (
    DataApiError,
    LocalDataApi,
    PgType,
    ResultOptions,
    bind_parameters,
    encode_value,
    field_as_json,
    format_postgres_error,
    parse_array_literal,
    parse_named_sql,
    typed_value,
    unsupported_type,
    validate_request,
)

CLUSTER = "arn:aws:rds:us-east-1:000000000000:cluster:ttai-local"
SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:ttai-local-AbCdEf"
TEXT = PgType(25, "text")
INT4 = PgType(23, "int4")


# ------------------------------------------------------------------ :name rewriting


def test_named_parameters_become_numbered_in_order_of_first_use() -> None:
    named = parse_named_sql("SELECT * FROM t WHERE a = :a AND b = :b OR a = :a")

    assert named.text == "SELECT * FROM t WHERE a = $1 AND b = $2 OR a = $1"
    assert named.names == ("a", "b")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ':x'",
        "SELECT 'it''s :x'",
        "SELECT E'it\\'s :x'",
        'SELECT 1 AS ":x"',
        'SELECT 1 AS "a"":x"',
        "SELECT 1 -- :x",
        "SELECT 1 /* :x /* :y */ :z */",
        "SELECT $$ :x $$",
        "SELECT $body$ it's :x $body$",
        "SELECT 1::text",
        "SELECT now()::timestamptz(3)",
    ],
)
def test_colons_that_are_not_parameters_are_left_alone(sql: str) -> None:
    named = parse_named_sql(sql)

    assert named.text == sql
    assert named.names == ()


def test_a_cast_right_after_a_parameter_keeps_both() -> None:
    named = parse_named_sql("SELECT :v::jsonb, :w::int[]")

    assert named.text == "SELECT $1::jsonb, $2::int[]"


def test_a_backslash_in_a_plain_literal_does_not_escape_the_quote() -> None:
    # standard_conforming_strings: 'a\' is a complete literal, so :p after it is a parameter.
    named = parse_named_sql("SELECT 'a\\', :p")

    assert named.names == ("p",)


def test_dollar_signs_inside_identifiers_do_not_open_dollar_quotes() -> None:
    named = parse_named_sql("SELECT a$b$c, :p FROM t$1$")

    assert named.names == ("p",)


def test_names_inside_dollar_quotes_are_reported_not_replaced() -> None:
    named = parse_named_sql("DO $fn$ BEGIN x := :inside; END $fn$")

    assert named.names == ()
    assert named.dollar_quoted_names == frozenset({"inside"})


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        ("SELECT 1", 1),
        ("SELECT 1;", 1),
        ("SELECT 1; -- done", 1),
        ("SELECT ';'", 1),
        ("SELECT 1; SELECT 2", 2),
        ("SELECT $$;$$; SELECT 2", 2),
        ("", 0),
    ],
)
def test_statements_are_counted_outside_literals(sql: str, statements: int) -> None:
    assert parse_named_sql(sql).statements == statements


# ------------------------------------------------------------------ request validation


def _execute(**overrides: Any) -> dict[str, Any]:
    return {"resourceArn": CLUSTER, "secretArn": SECRET, "sql": "SELECT 1", **overrides}


def test_a_request_that_matches_the_model_has_no_problems() -> None:
    request = _execute(
        parameters=[{"name": "a", "value": {"blobValue": "AAE="}}, {"name": "b", "value": {"isNull": True}}],
        resultSetOptions={"decimalReturnType": "STRING"},
        includeResultMetadata=True,
    )

    assert validate_request("ExecuteStatement", request) == []


@pytest.mark.parametrize(
    ("request_body", "problem"),
    [
        ({"secretArn": SECRET, "sql": "x"}, "resourceArn: required member is missing"),
        (_execute(sql=7), "sql: expected a string"),
        (_execute(parameters={}), "parameters: expected a list"),
        (_execute(parameters=[{"name": "a", "value": {}}]), "parameters[0].value: exactly one of"),
        (_execute(parameters=[{"name": "a", "value": {"longValue": True}}]), "longValue: expected a 64-bit integer"),
        (_execute(parameters=[{"name": "a", "value": {"longValue": 2**63}}]), "longValue: expected a 64-bit integer"),
        (_execute(parameters=[{"name": "a", "value": {"blobValue": "!!"}}]), "blobValue: expected base64"),
        (_execute(resultSetOptions={"longReturnType": "INT"}), "longReturnType: 'INT' is not one of"),
        (_execute(transactionId="x" * 193), "transactionId: length 193 is above the maximum of 192"),
        (_execute(sql="x" * 65537), "sql: length 65537 is above the maximum of 65536"),
        (_execute(Sql="SELECT 1"), "Sql: unknown member"),
    ],
)
def test_requests_that_break_the_model_are_described(request_body: dict[str, Any], problem: str) -> None:
    problems = validate_request("ExecuteStatement", request_body)

    assert any(problem in p for p in problems), problems


def test_null_elements_are_allowed_in_array_values() -> None:
    request = _execute(parameters=[{"name": "a", "value": {"arrayValue": {"stringValues": ["x", None]}}}])

    assert validate_request("ExecuteStatement", request) == []


def test_batch_parameter_sets_are_validated_element_by_element() -> None:
    request = {"resourceArn": CLUSTER, "secretArn": SECRET, "sql": "x", "parameterSets": [[{"name": "a"}], "bad"]}

    assert validate_request("BatchExecuteStatement", request) == ["parameterSets[1]: expected a list"]


# ------------------------------------------------------------------ parameters


def _types(values: list[Any]) -> list[tuple[str, str] | None]:
    return [None if v is None else (type(v).__name__, v.text) for v in values]


def test_values_are_typed_as_the_service_types_them() -> None:
    named = parse_named_sql("SELECT :s, :l, :d, :b, :n, :blob, :dec, :ts, :date, :time, :uuid, :json")
    parameters = [
        {"name": "s", "value": {"stringValue": "x"}},
        {"name": "l", "value": {"longValue": -3}},
        {"name": "d", "value": {"doubleValue": 0.1}},
        {"name": "b", "value": {"booleanValue": False}},
        {"name": "n", "value": {"isNull": True}},
        {"name": "blob", "value": {"blobValue": "AAH/"}},
        {"name": "dec", "value": {"stringValue": "1.50"}, "typeHint": "DECIMAL"},
        {"name": "ts", "value": {"stringValue": "2024-01-15 13:45:30.5"}, "typeHint": "TIMESTAMP"},
        {"name": "date", "value": {"stringValue": "2024-01-15"}, "typeHint": "DATE"},
        {"name": "time", "value": {"stringValue": "13:45:30"}, "typeHint": "TIME"},
        {"name": "uuid", "value": {"stringValue": "00000000-0000-0000-0000-000000000001"}, "typeHint": "UUID"},
        {"name": "json", "value": {"stringValue": "[1]"}, "typeHint": "JSON"},
    ]

    assert _types(bind_parameters(named, parameters)) == [
        ("_Varchar", "x"),
        ("_Int8", "-3"),
        ("_Float8", "0.1"),
        ("_Bool", "false"),
        None,
        ("_Bytea", "\\x0001ff"),
        ("_Numeric", "1.50"),
        ("_Timestamp", "2024-01-15 13:45:30.5"),
        ("_Date", "2024-01-15"),
        ("_Time", "13:45:30"),
        ("_Uuid", "00000000-0000-0000-0000-000000000001"),
        ("_Json", "[1]"),
    ]


@pytest.mark.parametrize(
    ("hint", "text"),
    [("DATE", "15/01/2024"), ("TIME", "1:45 pm"), ("TIMESTAMP", "2024-01-15T13:45:30Z"), ("TIMESTAMP", "2024-01-15")],
)
def test_hinted_strings_outside_the_documented_formats_are_refused(hint: str, text: str) -> None:
    with pytest.raises(DataApiError) as raised:
        typed_value({"name": "p", "value": {"stringValue": text}, "typeHint": hint})

    assert raised.value.shape == "BadRequestException"


def test_a_referenced_parameter_that_was_not_passed_is_a_database_error() -> None:
    with pytest.raises(DataApiError) as raised:
        bind_parameters(parse_named_sql("SELECT :a, :b"), [{"name": "a", "value": {"longValue": 1}}])

    assert (raised.value.shape, raised.value.message) == (
        "DatabaseErrorException",
        "No value specified for parameter :b.; SQLState: 22023",
    )


def test_extra_parameters_are_ignored_and_a_later_duplicate_wins() -> None:
    parameters = [
        {"name": "a", "value": {"longValue": 1}},
        {"name": "unused", "value": {"longValue": 2}},
        {"name": "a", "value": {"longValue": 3}},
    ]

    assert _types(bind_parameters(parse_named_sql("SELECT :a"), parameters)) == [("_Int8", "3")]


def test_a_nul_character_is_refused_as_postgresql_refuses_it() -> None:
    with pytest.raises(DataApiError, match="0x00; SQLState: 22021"):
        typed_value({"name": "p", "value": {"stringValue": "a\x00b"}})


# ------------------------------------------------------------------ results


@pytest.mark.parametrize(
    ("text", "pg_type", "field"),
    [
        (None, TEXT, {"isNull": True}),
        ("t", PgType(16, "bool"), {"booleanValue": True}),
        ("-7", PgType(21, "int2"), {"longValue": -7}),
        ("1.5", PgType(700, "float4"), {"doubleValue": 1.5}),
        ("NaN", PgType(701, "float8"), {"doubleValue": float("nan")}),
        ("\\x00ff", PgType(17, "bytea"), {"blobValue": "AP8="}),
        ("12.30", PgType(1700, "numeric"), {"stringValue": "12.30"}),
        ("2024-01-15 03:34:56+00", PgType(1184, "timestamptz"), {"stringValue": "2024-01-15 03:34:56"}),
        ("0044-03-15 12:00:00+00 BC", PgType(1184, "timestamptz"), {"stringValue": "-0043-03-13 12:00:00"}),
        ("10000-01-01 13:59:59+00", PgType(1184, "timestamptz"), {"stringValue": "+10000-01-01 13:59:59"}),
        ("infinity", PgType(1184, "timestamptz"), {"stringValue": "+292278994-08-16 23:00:00"}),
        ("-infinity", PgType(1114, "timestamp"), {"stringValue": "-292275055-05-16 23:00:00"}),
        ("0001-12-31 BC", PgType(1082, "date"), {"stringValue": "0000-12-29"}),
        ("2024-01-15 03:34:56", PgType(1114, "timestamp"), {"stringValue": "2024-01-15 03:34:56"}),
        ('{"a": 1}', PgType(3802, "jsonb"), {"stringValue": '{"a": 1}'}),
        ("happy", PgType(90000, "mood", kind="e"), {"stringValue": "happy"}),
        ("{1,NULL}", PgType(1007, "_int4", element=INT4), {"arrayValue": {"longValues": [1, None]}}),
    ],
)
def test_values_are_encoded_as_the_documented_field_members(text: str | None, pg_type: PgType, field: Any) -> None:
    encoded = encode_value(text, pg_type)

    assert json.dumps(encoded) == json.dumps(field)  # NaN compares equal this way


def test_result_set_options_turn_decimals_into_numbers_and_longs_into_strings() -> None:
    options = ResultOptions(decimal_as_number=True, long_as_string=True)
    numeric = PgType(1700, "numeric")

    assert encode_value("12", numeric, options) == {"longValue": 12}
    assert encode_value("-12.5", numeric, options) == {"doubleValue": -12.5}
    assert encode_value("12", PgType(20, "int8"), options) == {"stringValue": "12"}
    assert encode_value("{1,2}", PgType(1016, "_int8", element=PgType(20, "int8")), options) == {
        "arrayValue": {"stringValues": ["1", "2"]}
    }


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("2024-01-15 03:34:56.5+00", "2024-01-15 03:34:56.5"),
        ("9999-12-31 23:59:59.999999+00", "9999-12-31 23:59:59.999999"),
        ("294276-12-31 23:59:59+00", "+294276-12-31 23:59:59"),  # PostgreSQL's last year
        ("0001-01-01 00:00:00+00", "0000-12-30 00:00:00"),  # read as Julian, printed as Gregorian
        ("1582-10-14 00:00:00+00", "1582-10-24 00:00:00"),  # the last day java.util counts as Julian
        ("1582-10-15 00:00:00+00", "1582-10-15 00:00:00"),  # the reform: both calendars agree from here
        ("4713-11-24 00:00:00+00 BC", "-4712-10-17 00:00:00"),  # PostgreSQL's first day
    ],
)
def test_timestamps_are_printed_as_the_service_prints_them_through_java(text: str, printed: str) -> None:
    assert encode_value(text, PgType(1184, "timestamptz")) == {"stringValue": printed}


def test_timestamps_in_arrays_are_printed_the_same_way() -> None:
    array = PgType(1185, "_timestamptz", element=PgType(1184, "timestamptz"))

    assert encode_value('{"2024-01-15 03:34:56+00","0044-03-15 12:00:00+00 BC",infinity,NULL}', array) == {
        "arrayValue": {
            "stringValues": ["2024-01-15 03:34:56", "-0043-03-13 12:00:00", "+292278994-08-16 23:00:00", None]
        }
    }


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("{}", []),
        ("{a,b}", ["a", "b"]),
        ('{"a,b","c\\"d","e\\\\f",NULL,"NULL"}', ["a,b", 'c"d', "e\\f", None, "NULL"]),
        ("[0:1]={x,y}", ["x", "y"]),
    ],
)
def test_array_literals_are_split_into_their_elements(text: str, items: list[str | None]) -> None:
    assert parse_array_literal(text) == items


def test_multidimensional_arrays_are_unsupported_results() -> None:
    with pytest.raises(DataApiError) as raised:
        parse_array_literal("{{1,2},{3,4}}")

    assert raised.value.shape == "UnsupportedResultException"


@pytest.mark.parametrize(
    ("pg_type", "supported"),
    [
        (TEXT, True),
        (PgType(1186, "interval"), False),
        (PgType(18, "char"), False),
        (PgType(142, "xml"), False),
        (PgType(1009, "_text", element=TEXT), True),
        (PgType(1001, "_bytea", element=PgType(17, "bytea")), False),
        (PgType(2211, "_regtype", element=PgType(2206, "regtype")), False),
        (PgType(90001, "_mood", element=PgType(90000, "mood", kind="e")), True),
    ],
)
def test_only_documented_types_can_be_returned(pg_type: PgType, supported: bool) -> None:
    assert (unsupported_type(pg_type) is None) is supported


def test_formatted_records_use_plain_json_values() -> None:
    fields: list[dict[str, Any]] = [
        {"isNull": True},
        {"longValue": 1},
        {"stringValue": "x"},
        {"arrayValue": {"doubleValues": [1.5]}},
        {"blobValue": "AQ=="},
    ]

    assert [field_as_json(f) for f in fields] == [None, 1, "x", [1.5], "AQ=="]


def test_postgresql_errors_read_like_the_service_reports_them() -> None:
    message = format_postgres_error(
        'duplicate key value violates unique constraint "t_pkey"',
        "23505",
        detail="Key (id)=(1) already exists.",
        hint="Try another.",
        position="8",
        where="SQL function",
    )

    assert message == (
        'ERROR: duplicate key value violates unique constraint "t_pkey"\n'
        "  Detail: Key (id)=(1) already exists.\n"
        "  Hint: Try another.\n"
        "  Position: 8\n"
        "  Where: SQL function; SQLState: 23505"
    )


# ------------------------------------------------------------------ error responses (no server, no database)


@pytest.fixture
def api() -> LocalDataApi:
    def no_database(name: str) -> str | None:
        raise AssertionError(f"these requests must fail before a database is named ({name})")

    return LocalDataApi(no_database, cluster_arn=CLUSTER, secret_arn=SECRET)


def _botocore_error(status: int, headers: dict[str, str], body: bytes, operation: str) -> dict[str, Any]:
    """What botocore makes of the response (the parser reads lower-cased header names)."""
    model = botocore.session.get_session().get_service_model("rds-data").operation_model(operation)
    response = {"status_code": status, "headers": {k.lower(): v for k, v in headers.items()}, "body": body}
    assert model.output_shape is not None
    parsed: dict[str, Any] = parsers.create_parser("rest-json").parse(response, model.output_shape)
    error: dict[str, Any] = parsed["Error"]
    return error


@pytest.mark.parametrize(
    ("request_body", "status", "code"),
    [
        (_execute(sql=None), 400, "BadRequestException"),
        (_execute(resourceArn=CLUSTER + "-other"), 400, "HttpEndpointNotEnabledException"),
        (_execute(secretArn=SECRET + "-other"), 400, "SecretsErrorException"),
        (_execute(schema="public"), 400, "BadRequestException"),
        (_execute(sql="SELECT 1; SELECT 2"), 400, "DatabaseErrorException"),
    ],
)
def test_errors_are_answered_in_the_shape_botocore_parses(
    api: LocalDataApi, request_body: dict[str, Any], status: int, code: str
) -> None:
    body = json.dumps({k: v for k, v in request_body.items() if v is not None}).encode()

    answered, headers, payload = api.handle("POST", "/Execute", body)
    error = _botocore_error(answered, headers, payload, "ExecuteStatement")

    assert answered == status
    assert error["Code"] == code
    assert error["Message"] == json.loads(payload)["message"]


def test_transaction_errors_are_404_transaction_not_found(api: LocalDataApi) -> None:
    body = json.dumps({"resourceArn": CLUSTER, "secretArn": SECRET, "transactionId": "gone"}).encode()

    answered, headers, payload = api.handle("POST", "/CommitTransaction", body)

    assert answered == 404
    assert _botocore_error(answered, headers, payload, "CommitTransaction")["Code"] == "TransactionNotFoundException"


def test_pause_fails_statement_calls_but_not_commits(api: LocalDataApi) -> None:
    api.pause(1)
    commit = json.dumps({"resourceArn": CLUSTER, "secretArn": SECRET, "transactionId": "gone"}).encode()
    begin = json.dumps({"resourceArn": CLUSTER, "secretArn": SECRET, "database": "app"}).encode()

    commit_status, commit_headers, _ = api.handle("POST", "/CommitTransaction", commit)
    begin_status, begin_headers, _ = api.handle("POST", "/BeginTransaction", begin)

    assert (commit_status, commit_headers["x-amzn-ErrorType"]) == (404, "TransactionNotFoundException")
    assert (begin_status, begin_headers["x-amzn-ErrorType"]) == (400, "DatabaseResumingException")
    assert api.requests == {"CommitTransaction": 1, "BeginTransaction": 1}


def test_other_paths_and_methods_are_unknown_operations(api: LocalDataApi) -> None:
    assert api.handle("GET", "/Execute", b"")[0] == 404
    status, headers, _ = api.handle("POST", "/ExecuteSql", b"{}")

    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    assert api.requests == {}
