"""python -m infra.cost --env prod --users 1000: the monthly cost table of a synthesized environment."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from infra.config import load_environment, read_cdk_context
from infra.cost.budget import over_budget, render_argument
from infra.cost.model import ACU_HOUR, CostModelError, Estimate, Prices, estimate, load_json
from infra.paths import PROJECT_ROOT

STANDARD_USERS = (1_000, 10_000, 100_000)
BUDGETED_ENVIRONMENT = "prod"  # issue 16's goal is prod's, at seed 002's 1,000 users


def template_of(outdir: Path, environment: str) -> dict[str, object]:
    found = sorted((outdir / f"assembly-{environment}").glob("*.template.json"))
    if not found:
        msg = f"no synthesized template for {environment} under {outdir}: run make synth"
        raise CostModelError(msg)
    loaded: dict[str, object] = json.loads(found[0].read_text(encoding="utf-8"))
    return loaded


def render(estimates: list[Estimate]) -> str:
    """Cost per kind of resource, one column per user count, then the total and what the database does."""
    kinds: dict[str, dict[int, float]] = defaultdict(dict)
    for result in estimates:
        for line in result.lines:
            kinds[line.kind][result.users] = kinds[line.kind].get(result.users, 0.0) + line.usd
    header = f"{'monthly USD, ' + estimates[0].environment:<34}" + "".join(f"{r.users:>12,} users" for r in estimates)
    rows = [header, "-" * len(header)]
    for kind, by_users in sorted(kinds.items(), key=lambda item: -item[1][estimates[0].users]):
        rows.append(f"{kind:<34}" + "".join(f"{by_users.get(r.users, 0.0):>18,.2f}" for r in estimates))
    rows.append("-" * len(header))
    rows.append(f"{'total':<34}" + "".join(f"{r.total:>18,.2f}" for r in estimates))
    # AWS's always-free allowances, which only an account holding this environment alone gets whole.
    rows.append(f"{'  less always-free allowances':<34}" + "".join(f"{-r.free_tier:>18,.2f}" for r in estimates))
    rows.append(
        f"{'  (in an account of its own)':<34}" + "".join(f"{r.total - r.free_tier:>18,.2f}" for r in estimates)
    )
    seed = load_json("usage.json")["cloudflare_seed_002"]
    rows.append(
        f"{'Cloudflare (seed 002)':<34}"
        + "".join(
            f"{sum(seed['lines'].values()):>18,.2f}" if r.users == seed["users"] else f"{'not given':>18}"
            for r in estimates
        )
    )
    rows.append("")
    acu_hour = Prices(load_json("prices.json"))
    for result in estimates:
        db = result.database
        if db is None:
            continue
        rows.append(
            f"database at {result.users:,} users: {db.acu_hours:,.0f} ACU-hours "
            f"(${acu_hour(ACU_HOUR, db.acu_hours):,.2f}; holding the open-market minimum all month: "
            f"{db.always_on_acu_hours:,.0f}, ${acu_hour(ACU_HOUR, db.always_on_acu_hours):,.2f}); "
            f"awake {db.awake_share_closed:.0%} of the closed-market hours; "
            f"{db.resumes:,.0f} first requests a month wait for a resume (~15 s, or a 503 with Retry-After)"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cost", description=__doc__)
    parser.add_argument("--env", default="prod", help="dev, staging or prod (default prod)")
    parser.add_argument("--users", type=int, action="append", help="active users (repeatable; default 1k/10k/100k)")
    parser.add_argument("--outdir", type=Path, default=PROJECT_ROOT / "cdk.out", help="where make synth wrote")
    args = parser.parse_args(argv)
    users = sorted(set(STANDARD_USERS) | set(args.users or ()))
    try:
        config = load_environment(read_cdk_context(PROJECT_ROOT), args.env)
        template = template_of(args.outdir, args.env)
        estimates = [estimate(template, environment=args.env, database=config.database, users=n) for n in users]
        idle = estimate(template, environment=args.env, database=config.database, users=0)
    except CostModelError as exc:
        print(f"make cost: {exc}", file=sys.stderr)
        return 2
    print(render(estimates))
    if args.env == BUDGETED_ENVIRONMENT:
        usage = load_json("usage.json")
        budgeted = next(r for r in estimates if r.users == usage["cloudflare_seed_002"]["users"])
        argument = over_budget(budgeted, idle, Prices(load_json("prices.json")))
        if argument is not None:
            print()
            print(render_argument(argument, args.env, float(usage["requests_by_period"]["open"]["value"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
