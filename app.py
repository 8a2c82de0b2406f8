"""CDK entry point: one stage per environment of cdk.json (or only `-c env=NAME`), each holding the Ttai stack."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from infra.application import add_policy_checks, build_app
from infra.config import ConfigError, read_cdk_context
from infra.layer_build import LayerBuildError
from infra.paths import PROJECT_ROOT


def main() -> int:
    # The CLI hands cdk.json's context in CDK_CONTEXT_JSON, which overrides this; reading cdk.json here makes
    # a plain `python app.py` (CDK_OUTDIR set) synthesize the same assembly.
    app = cdk.App(context=read_cdk_context(PROJECT_ROOT))
    try:
        build_app(app, root=PROJECT_ROOT)
    except (ConfigError, LayerBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    add_policy_checks(app)
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
