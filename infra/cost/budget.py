"""Why an environment's estimate is above its budget: what a design or a decision could still take off, and what
every request pays in this architecture whatever is done.

Issue 16 sets the goal: prod at most 40 USD a month for 1,000 active users, seed 002's Cloudflare figure. The
argument is computed from two estimates of the same template: at the users asked about, and with no users at all
(what the environment costs idle: Aurora at its open-market floor, keys, secrets, alarms, the dashboard).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from infra.cost.model import Estimate, Prices

BUDGET_USD = 40.0  # issue 16: prod at 1,000 active users, against seed 002's ~39 USD on Cloudflare
AURORA_COMPUTE = "Aurora compute"
TRACES = "X-Ray traces"
# The lines every request pays for in this architecture (API Gateway in front, a Lambda invocation behind it, D1
# statements through the Data API), and the price of one request on each.
PER_REQUEST = (("HTTP API", "http_api_request"), ("Lambda", "lambda_request"), ("Data API", "rds_data_api_request"))


@dataclass(frozen=True)
class Removable:
    kind: str
    usd: float
    how: str


@dataclass(frozen=True)
class Charged:
    kind: str
    usd: float
    requests: float


@dataclass(frozen=True)
class OverBudget:
    """The parts of `total` an argument about the budget needs."""

    users: int
    total: float
    budget: float
    removable: list[Removable]  # what a design change or a decision could take off, at most
    per_request: list[Charged]  # the request charges alone of the lines every request crosses
    aurora_floor: float  # Aurora compute with no users: the open-market minimum (and the nights' scheduled work)
    rest: list[tuple[str, float]]  # every other line by kind, largest first: compute, storage, logs, fixed charges
    free_tier: float  # what the always-free allowances take off at most (prod in an account of its own)

    @property
    def left(self) -> float:
        return self.total - sum(item.usd for item in self.removable)

    @property
    def least(self) -> float:
        """What is left with the always-free allowances off too (a little low: some of them come off the removed
        lines)."""
        return self.left - self.free_tier

    @property
    def unavoidable(self) -> float:
        return sum(item.usd for item in self.per_request) + self.aurora_floor


def _by_kind(result: Estimate) -> dict[str, float]:
    kinds: dict[str, float] = defaultdict(float)
    for line in result.lines:
        kinds[line.kind] += line.usd
    return kinds


def over_budget(result: Estimate, idle: Estimate, price: Prices, budget: float = BUDGET_USD) -> OverBudget | None:
    """The argument for `result` (estimated for its users) against `idle` (the same template with no users), or
    None when it is within the budget."""
    if result.total <= budget:
        return None
    kinds, idle_kinds = _by_kind(result), _by_kind(idle)
    floor = idle_kinds.get(AURORA_COMPUTE, 0.0)
    removable = [
        Removable(
            AURORA_COMPUTE + " above its open-market floor",
            kinds.get(AURORA_COMPUTE, 0.0) - floor,
            "it pauses outside market hours only if no statement reaches it for 15 minutes; serving those hours "
            "from DynamoDB saves this at most, and only for the queries a copy is built for (D1 takes any SQL; "
            "writes would still wake it)",
        ),
        Removable(TRACES, kinds.get(TRACES, 0.0), "a decision, not a design: no active tracing records no trace"),
    ]
    charged = []
    rest = dict(kinds)
    rest[AURORA_COMPUTE] = 0.0  # all of it is either removable or the floor
    rest.pop(TRACES, None)
    for kind, unit in PER_REQUEST:
        requests = sum(line.requests for line in result.lines if line.kind == kind)
        charged.append(Charged(kind, price(unit, requests), requests))
        rest[kind] = rest.get(kind, 0.0) - charged[-1].usd
    rest = {("Lambda compute" if kind == "Lambda" else kind): usd for kind, usd in rest.items()}
    return OverBudget(
        result.users,
        result.total,
        budget,
        [item for item in removable if item.usd > 0],
        charged,
        floor,
        sorted(((kind, usd) for kind, usd in rest.items() if usd >= 0.005), key=lambda item: -item[1]),
        result.free_tier,
    )


def render_argument(argument: OverBudget, environment: str, open_share: float) -> str:
    """The printed section: what could come off, what is left, and the part of it no design here removes."""
    rows = [
        f"why {environment} is above ${argument.budget:,.0f} a month at {argument.users:,} users "
        f"(${argument.total:,.2f}):",
        "  what a design change or a decision could take off, at most:",
    ]
    rows.extend(f"    {item.kind:<44}{item.usd:>9,.2f}  {item.how}" for item in argument.removable)
    rows.append(
        f"  leaving ${argument.left:,.2f}; of it, what every request pays whatever the design "
        "(API Gateway in front, a Lambda invocation behind it, D1 through the Data API):"
    )
    rows.extend(
        f"    {item.kind + ' requests':<44}{item.usd:>9,.2f}  {item.requests:,.0f} a month"
        for item in argument.per_request
    )
    rows.append(
        f"    {'Aurora at its open-market floor':<44}{argument.aurora_floor:>9,.2f}  "
        f"0.5 ACU, the least it bills awake, while the market is open ({open_share:.0%} of requests arrive then: "
        "it never pauses) and while the nightly jobs run"
    )
    rest = argument.left - argument.unavoidable
    rows.append(f"  = ${argument.unavoidable:,.2f} before any compute, storage, log, alarm, key or secret; the other")
    largest = ", ".join(f"{kind} {usd:,.2f}" for kind, usd in argument.rest[:6])
    rows.append(f"    ${rest:,.2f} is every other line ({largest}, ...)")
    rows.append(
        f"  with AWS's always-free allowances taken off as well (${argument.free_tier:,.2f}, all of them only in an "
        f"account of its own): ${argument.least:,.2f}"
    )
    if argument.least > argument.budget:
        cut = argument.least - argument.budget
        rows.append(
            f"  so those other lines, each paying for something the stack needs, would have to lose ${cut:,.2f} "
            f"({cut / rest:.0%}) as well: no design change within this architecture brings {environment} to "
            f"${argument.budget:,.0f} at seed 002's traffic (Cloudflare's figure rests on $0.50 a million requests "
            "with no gateway charge, and a database with no floor)."
        )
    else:
        rows.append(f"  which fits in ${argument.budget:,.0f} once the lines above come off.")
    return "\n".join(rows)
