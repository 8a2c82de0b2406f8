"""notification: one message delivered on its channel (Discord webhook, SES email, SNS push).

Outcomes: delivered (acked); a transient failure (5xx, timeout, 429, throttling) raises ``TransientDeliveryError``
and the dispatcher retries with backoff (a 429's Retry-After wins) until the DLQ; a permanent one (no webhook or
address stored, Discord 4xx other than 429, SES rejecting the address) is logged and acked: no retry can change
it, and parking it in the DLQ would only hide it among the messages a redrive can fix. It is counted in the
``NotificationsUndeliverable`` metric so it still shows.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ttai.env import Env
from ttai.errors import ConfigurationError
from ttai.messages import Notification
from ttai.notify import PermanentDeliveryError
from ttai.notify.discord import DiscordWebhook
from ttai.notify.email import EmailSender
from ttai.notify.push import PushPublisher
from ttai.observability import logger, metrics

_RECIPIENT = """
SELECT u.email, p.discord_webhook_url
FROM users u LEFT JOIN user_preferences p ON p.user_id = u.id
WHERE u.id = ?
"""


@cache
def _discord(allow_loopback: bool) -> DiscordWebhook:
    return DiscordWebhook(allow_loopback=allow_loopback)


def _recipient(env: Env, user_id: str) -> dict[str, Any]:
    row = env.DB.prepare(_RECIPIENT).bind(user_id).first()
    if row is None:
        raise PermanentDeliveryError("the user no longer exists")
    return dict(row)


def _deliver(env: Env, message: Notification) -> str:
    if message.channel == "push":
        topic = env.settings.push_topic_arn
        if not topic:
            raise ConfigurationError("push notifications need TTAI_PUSH_TOPIC_ARN")
        return PushPublisher(env.client("sns"), topic).send(message.user_id, message.title, message.body, message.data)
    recipient = _recipient(env, message.user_id)
    if message.channel == "email":
        sender = env.settings.email_sender
        if not sender:
            raise ConfigurationError("email notifications need TTAI_EMAIL_SENDER")
        if not recipient["email"]:
            raise PermanentDeliveryError("the user has no email address")
        return EmailSender(env.client("ses"), sender).send(recipient["email"], message.title, message.body)
    url = recipient["discord_webhook_url"]
    if not url:
        raise PermanentDeliveryError("the user has no Discord webhook")
    status = _discord(env.settings.environment == "local").send(url, message.title, message.body, message.data)
    return str(status)


def handle(env: Env, message: Notification) -> dict[str, Any]:
    try:
        receipt = _deliver(env, message)
    except PermanentDeliveryError as exc:
        logger.warning(
            "notification undeliverable: acked without a retry",
            extra={"channel": message.channel, "reason": str(exc)},
        )
        metrics.add_metric(name="NotificationsUndeliverable", unit=MetricUnit.Count, value=1)
        return {"delivered": False, "channel": message.channel, "reason": str(exc)}
    metrics.add_metric(name="NotificationsDelivered", unit=MetricUnit.Count, value=1)
    # The channel's receipt (Discord's status, SES's or SNS's message id) names no one.
    logger.info("notification delivered", extra={"channel": message.channel, "receipt": receipt})
    return {"delivered": True, "channel": message.channel, "receipt": receipt}
