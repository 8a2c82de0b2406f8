"""Push through SNS: one topic for every user, each message tagged with a ``user_id`` attribute.

Devices subscribe to the topic (a mobile platform endpoint, an HTTPS relay...) with a filter policy on
``user_id``, so each receives its user's messages only; publishing needs no per-user lookup and the topic is
the one place push is granted. The message is JSON: ``{"title", "body", "data"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ttai.notify import aws_delivery_error

USER_ATTRIBUTE = "user_id"
PERMANENT_CODES = frozenset({"InvalidParameter", "InvalidParameterValue", "NotFound", "AuthorizationError"})


class PushPublisher:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self.topic_arn = topic_arn

    def send(self, user_id: str, title: str, body: str, data: Mapping[str, Any] | None = None) -> str:
        """Publish one message for ``user_id``; returns SNS's message id."""
        message = json.dumps({"title": title, "body": body, "data": dict(data or {})}, ensure_ascii=False)
        try:
            response = self._sns.publish(
                TopicArn=self.topic_arn,
                Message=message,
                MessageAttributes={USER_ATTRIBUTE: {"DataType": "String", "StringValue": user_id}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise aws_delivery_error(exc, "SNS", PERMANENT_CODES) from None
        return str(response["MessageId"])
