"""Secrets Manager secrets, one per entry of storage.json's `secrets`, generated at deploy time.

A secret storage.json marks `"provided_by": "operator"` starts as a generated placeholder; the operator puts the
real value (`aws secretsmanager put-secret-value`) after the first deploy, and later deploys leave it alone.
"""

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
    "CURSOR_SECRET": (
        "Rotated by putting a new version by hand: the api function still accepts cursors signed with the previous "
        "version (AWSPREVIOUS), so lists being paged survive one rotation. A schedule adds little: a cursor only "
        "lets its holder read the next page of a list they may read anyway."
    ),
    "TOKEN_ENCRYPTION_KEY": (
        "Rotated by putting a new version by hand: the runtime still opens values sealed under the previous "
        "version (AWSPREVIOUS) and re-seals them on their next use, so a schedule that rotated twice before every "
        "stored token was re-sealed would orphan those tokens."
    ),
    "TASTYTRADE_CLIENT_ID": (
        "Issued by TastyTrade for this OAuth client and changed only in TastyTrade's developer portal; there is "
        "no API a rotation Lambda could call, so the operator puts each new value by hand."
    ),
    "TASTYTRADE_CLIENT_SECRET": (
        "Issued and rotated in TastyTrade's developer portal, which offers no API a rotation Lambda could call; "
        "the operator puts each new value by hand, right after regenerating it there."
    ),
    "TASTYTRADE_SERVICE_REFRESH_TOKEN": (
        "The refresh token of a grant created in TastyTrade's portal; such tokens do not expire and TastyTrade "
        "offers no API to mint one, so the operator replaces it by hand when the grant is revoked or recreated."
    ),
}


class Secrets(Construct):
    """One generated secret per name, named ttai/<env>/<NAME>; functions get its ARN as TTAI_SECRET_<NAME>."""

    ENV_PREFIX = "TTAI_SECRET_"

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, specs: Mapping[str, SecretSpec]
    ) -> None:
        super().__init__(scope, construct_id)
        self._environment = config.name
        self.secrets: dict[str, secretsmanager.Secret] = {}
        for name, spec in specs.items():
            # The generator runs once, at creation: later deploys keep the value (a placeholder an operator
            # replaced included) as long as these generation settings do not change.
            secret = secretsmanager.Secret(
                self,
                name,
                secret_name=self.secret_name(name),
                description=spec.description,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=spec.length, exclude_punctuation=True
                ),
                removal_policy=removal_policy(config),
            )
            if name in ROTATION_EXEMPTIONS:
                acknowledge(secret, "AwsSolutions-SMG4", ROTATION_EXEMPTIONS[name])
            self.secrets[name] = secret
        # What the operator must put after the first deploy: until then these hold random placeholders.
        self.operator_provided = tuple(name for name, spec in specs.items() if spec.provided_by == "operator")

    def secret_name(self, name: str) -> str:
        return f"ttai/{self._environment}/{name}"

    def bind(self, grantee: iam.IGrantable, *names: str) -> dict[str, str]:
        """Read these secrets (their current and previous versions); returns the variables naming their ARNs."""
        for name in names:
            self.secrets[name].grant_read(grantee)
        return {f"{self.ENV_PREFIX}{name}": self.secrets[name].secret_arn for name in names}
