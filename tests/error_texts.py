"""What only a backend says, as a pattern: no answer to a caller may match it (tests/integration/test_error_texts.py,
and the OpenAPI property run in tests/e2e)."""

from __future__ import annotations

import re

# AWS error texts and identifiers, SQL and PostgreSQL, Python and botocore internals,
# the bindings' own vocabulary (their errors name what they stand on).
BACKEND_TEXT = re.compile(
    "|".join(
        (
            r"arn:aws",
            r"An error occurred \(",
            r"[A-Za-z]+(Exception|Error)\b",  # ClientError, D1BindError, ProvisionedThroughputExceededException...
            r"botocore|boto3|psycopg|pgserver|Traceback|site-packages|File \"",
            r"SQLSTATE|sqlstate|\bERROR:|\bDETAIL:|\bHINT:|violates|duplicate key|syntax error|relation \"",
            r"\b(SELECT|INSERT|UPDATE|DELETE) .* (FROM|INTO|SET|WHERE)\b",
            r"DynamoDB|Data API|PostgreSQL|Aurora|\bSQS\b|\bS3\b|\bD1\b|\bKV\b|\bR2\b|continuation token",
        )
    )
)
