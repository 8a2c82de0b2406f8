"""Secrets Manager secrets, one per entry of storage.json's `secrets`, generated at deploy time."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import removal_policy
from infra.nag import acknowledge
from infra.storage_layout import SecretSpec

# Secrets that deliberately have no rotation schedule, and why. A new secret must either get rotation or a
# line here; otherwise cdk-nag (AwsSolutions-SMG4) fails the synth.
ROTATION_EXEMPTIONS = {
    "JWT_SECRET": (
        "Rotating the session-signing key invalidates every live session at once. It is rolled over as a "
        "planned key-id change (old key kept for verification until its sessions expire), not on a schedule."
    ),
}


class Secrets(Construct):
    """One generated secret per name, named ttai/<env>/<NAME>; functions get its ARN as TTAI_SECRET_<NAME>."""

    ENV_PREFIX = "TTAI_SECRET_"

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, specs: Mapping[str, SecretSpec]
    ) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        for name, spec in specs.items():
            secret = secretsmanager.Secret(
                self,
                name,
                secret_name=f"ttai/{config.name}/{name}",
                description=spec.description,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=spec.length, exclude_punctuation=True
                ),
                removal_policy=removal_policy(config),
            )
            if name in ROTATION_EXEMPTIONS:
                acknowledge(secret, "AwsSolutions-SMG4", ROTATION_EXEMPTIONS[name])
            self.secrets[name] = secret

    def environment(self, *names: str) -> dict[str, str]:
        """The variables that tell a function where to read these secrets."""
        return {f"{self.ENV_PREFIX}{name}": self.secrets[name].secret_arn for name in names}

    def grant_read(self, grantee: iam.IGrantable, *names: str) -> None:
        for name in names:
            self.secrets[name].grant_read(grantee)
