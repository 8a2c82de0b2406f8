"""The stand-in AWS account and region every local resource, ARN and event names (moto's default account)."""

REGION = "us-east-1"
ACCOUNT_ID = "000000000000"
