"""Workers AI's embeddings on Amazon Bedrock: a function bound to AI may invoke the one embedding model storage.json
names, in the stack's region, and nothing else of Bedrock."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.storage_layout import AiBinding, AiLayout


class Embeddings(Construct):
    """No resource of its own: Bedrock's foundation models are the region's. Model access must be enabled for the
    account in the Bedrock console once (README); until then an invocation is refused with AccessDeniedException."""

    MODEL_ENV = "TTAI_AI_EMBEDDING_MODEL"
    DIMENSIONS_ENV = "TTAI_AI_EMBEDDING_DIMENSIONS"
    INVOKE_ACTIONS = ("bedrock:InvokeModel",)

    def __init__(self, scope: Construct, construct_id: str, *, layout: AiLayout) -> None:
        super().__init__(scope, construct_id)
        self.layout = layout
        # A foundation model's ARN has no account: arn:<partition>:bedrock:<region>::foundation-model/<model id>.
        self.model_arn = cdk.Stack.of(self).format_arn(
            service="bedrock",
            account="",
            resource="foundation-model",
            resource_name=layout.embedding_model,
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )

    def bind(self, grantee: iam.IGrantable, binding: AiBinding) -> dict[str, str]:
        """InvokeModel on the embedding model alone; returns the variables naming it and its dimensions."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(self.INVOKE_ACTIONS), resources=[self.model_arn])
        )
        return {
            self.MODEL_ENV: self.layout.embedding_model,
            self.DIMENSIONS_ENV: str(self.layout.embedding_dimensions),
        }
