"""Where notifications leave the system: the SNS topic push goes through and, if configured, the SES sender."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.storage_layout import EmailBinding, PushBinding


class Notifications(Construct):
    """The push topic (TTAI_PUSH_TOPIC_ARN) and the SES email identity of the sender (TTAI_EMAIL_SENDER).

    The topic is encrypted with the AWS-managed SNS key: only functions of this account publish to it, through
    SNS, which that key's policy already allows, so a key of our own would add a key policy and grants without
    keeping anyone out (the alarm topic needs its own key because CloudWatch publishes to it).
    Devices subscribe with a filter policy on the message attribute user_id (see README).
    """

    PUSH_TOPIC_ENV = "TTAI_PUSH_TOPIC_ARN"
    EMAIL_SENDER_ENV = "TTAI_EMAIL_SENDER"
    AWS_MANAGED_SNS_KEY = "alias/aws/sns"

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.push_topic = sns.Topic(
            self,
            "PushTopic",
            topic_name=f"ttai-{config.name}-push",
            display_name=f"ttai {config.name} push notifications",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", self.AWS_MANAGED_SNS_KEY),
            enforce_ssl=True,
        )
        self.email_sender = config.notifications.email_sender
        self.email_identity: ses.EmailIdentity | None = None
        if self.email_sender is not None:
            # SES mails this address a link; it sends nothing from it until someone follows that link.
            self.email_identity = ses.EmailIdentity(self, "EmailSender", identity=ses.Identity.email(self.email_sender))

    def bind_push(self, grantee: iam.IGrantable, binding: PushBinding) -> dict[str, str]:
        """Publish to the push topic; returns the variable naming it."""
        # sns:Publish alone: CDK's grant_publish would add kms:Decrypt/GenerateDataKey* on every key of the account
        # with the alias aws/sns, which SNS does not need (that key's own policy lets SNS use it for the account).
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.push_topic.topic_arn])
        )
        return {self.PUSH_TOPIC_ENV: self.push_topic.topic_arn}

    def bind_email(self, grantee: iam.IGrantable, binding: EmailBinding) -> dict[str, str]:
        """Send email only from the configured sender's identity; returns the variable naming the sender. Without
        a sender there is nothing to grant or name: email notifications are retried and dead-lettered until one is
        configured (README)."""
        if self.email_sender is None:
            return {}
        identity_arn = cdk.Stack.of(self).format_arn(
            service="ses", resource="identity", resource_name=self.email_sender
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[identity_arn],
                conditions={"StringEquals": {"ses:FromAddress": self.email_sender}},
            )
        )
        return {self.EMAIL_SENDER_ENV: self.email_sender}
