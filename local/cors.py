"""CORS as the HTTP API answers it, from an environment's allow-list in cdk.json (``api.cors``; infra configures the
deployed API from the same entry).

With CORS configured, API Gateway answers a preflight (OPTIONS with Origin and Access-Control-Request-Method) itself,
before routing and without the authorizer, and sets the Access-Control-* headers of every other answer, replacing
any the function sent. An origin not on the list gets none of them, so the browser refuses the call. With no origin
listed the API has no CORS configuration at all: an OPTIONS request is routed like any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"
_PREFIX = "access-control-"


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    allow_origins: frozenset[str]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_seconds: int = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CorsPolicy | None:
        """The policy of a cdk.json ``api.cors`` entry; None when it lists no origin (no CORS configured)."""
        if not settings.get("allow_origins"):
            return None
        return cls(
            allow_origins=frozenset(settings["allow_origins"]),
            allow_methods=tuple(settings["allow_methods"]),
            allow_headers=tuple(settings["allow_headers"]),
            expose_headers=tuple(settings.get("expose_headers") or ()),
            allow_credentials=bool(settings.get("allow_credentials", False)),
            max_age_seconds=int(settings.get("max_age_seconds", 0)),
        )

    @classmethod
    def of_environment(cls, name: str = "dev", cdk_json: Path = CDK_JSON) -> CorsPolicy | None:
        """The allow-list cdk.json gives environment ``name`` (make dev plays dev)."""
        context = json.loads(cdk_json.read_text(encoding="utf-8"))["context"]
        return cls.from_settings(context["environments"][name]["api"]["cors"])

    def allows(self, origin: str | None) -> bool:
        return origin is not None and origin in self.allow_origins

    @staticmethod
    def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
        return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers

    def preflight_headers(self, request_headers: Mapping[str, str]) -> dict[str, str]:
        """The preflight's answer headers: the allow-list for a listed origin, nothing CORS for any other."""
        origin = request_headers.get("origin")
        if origin is None or not self.allows(origin):
            return {}
        headers = {
            "access-control-allow-origin": origin,
            "access-control-allow-methods": ",".join(self.allow_methods),
            "access-control-allow-headers": ",".join(self.allow_headers),
            "access-control-max-age": str(self.max_age_seconds),
        }
        if self.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        return headers

    def response_headers(self, request_headers: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, str]:
        """A routed answer's headers: the function's Access-Control-* replaced by the policy's for the origin."""
        kept = {name: value for name, value in headers.items() if not name.lower().startswith(_PREFIX)}
        origin = request_headers.get("origin")
        if origin is not None and self.allows(origin):
            kept["access-control-allow-origin"] = origin
            if self.expose_headers:
                kept["access-control-expose-headers"] = ",".join(self.expose_headers)
            if self.allow_credentials:
                kept["access-control-allow-credentials"] = "true"
        return kept
