"""FinOps you can compute: the monthly cost of a deployment, per service, from unit prices.

`from livability import finops` is the API; docs/finops.md explains the model and its sources.
One module per job, each checkable on its own:

- `units`: bytes, the 30-day month, cents (money is `Decimal` throughout).
- `prices`: the dated unit-price file `prices.toml` as a `PriceBook`: every price with its
  unit, its monthly free tier and the Google page it comes from.
- `sizes`: BigQuery's logical size of rows of our schemas (`row_bytes`), and the
  `Measurements` of real rows, messages and exports that the CLI takes on rows our code makes.
- `scenario`: the deployment priced (`Scenario`: homes, locations, intervals, ingest mode).
- `profile`: this project's configuration as the model counts it: billing rules, the columns
  its queries read, what its functions do per invocation (`Profile`).
- `scans`: what scoring reads in BigQuery per week (the daily rollup, raw, the former views).
- `usage`: what the code and infrastructure use in a month, per service (`project_usage`),
  and its price (`estimate`).
- `pricing`: usage → priced lines with the free tiers shared → an `Estimate`.
- `reference`: the reference PoC's own estimate, reproduced its way (`reference_estimate`,
  `compare_reference`).
"""

from livability.finops.prices import PRICES_FILE, UNITS, Price, PriceBook, PriceError
from livability.finops.pricing import Estimate, Line, Method, Usage, price
from livability.finops.profile import (
    LOCATION_QUERY_COLUMNS,
    PUBLISH_BATCH,
    READS,
    ROLLUP_DAYS_CHECKED,
    ROLLUP_WRITES_PER_DAY,
    SCORING_COLUMNS,
    SCORING_WEATHER_DAYS,
    VIEW_COLUMNS,
    Gen2Function,
    Profile,
)
from livability.finops.reference import (
    REFERENCE_MEMORY_GIB,
    REFERENCE_METHOD,
    REFERENCE_ROW_COLUMNS,
    REFERENCE_SCENARIOS,
    REFERENCE_STATED,
    REFERENCE_TOTALS,
    Comparison,
    ReferenceUsage,
    compare_reference,
    reference_duration_s,
    reference_estimate,
    reference_usage,
)
from livability.finops.scans import WeekScan, one_home_report, rollup_row_bytes, week_scan
from livability.finops.scenario import Scenario, ScenarioError, format_interval, parse_interval
from livability.finops.sizes import (
    Measurements,
    TableSample,
    mean,
    row_bytes,
    sample_table,
    value_bytes,
)
from livability.finops.units import GIB, MONTH_DAYS, TIB, WEEKS_PER_MONTH, cents
from livability.finops.usage import estimate, project_usage

__all__ = [
    "GIB",
    "LOCATION_QUERY_COLUMNS",
    "MONTH_DAYS",
    "PRICES_FILE",
    "PUBLISH_BATCH",
    "READS",
    "REFERENCE_MEMORY_GIB",
    "REFERENCE_METHOD",
    "REFERENCE_ROW_COLUMNS",
    "REFERENCE_SCENARIOS",
    "REFERENCE_STATED",
    "REFERENCE_TOTALS",
    "ROLLUP_DAYS_CHECKED",
    "ROLLUP_WRITES_PER_DAY",
    "SCORING_COLUMNS",
    "SCORING_WEATHER_DAYS",
    "TIB",
    "UNITS",
    "VIEW_COLUMNS",
    "WEEKS_PER_MONTH",
    "Comparison",
    "Estimate",
    "Gen2Function",
    "Line",
    "Measurements",
    "Method",
    "Price",
    "PriceBook",
    "PriceError",
    "Profile",
    "ReferenceUsage",
    "Scenario",
    "ScenarioError",
    "TableSample",
    "Usage",
    "WeekScan",
    "cents",
    "compare_reference",
    "estimate",
    "format_interval",
    "mean",
    "one_home_report",
    "parse_interval",
    "price",
    "project_usage",
    "reference_duration_s",
    "reference_estimate",
    "reference_usage",
    "rollup_row_bytes",
    "row_bytes",
    "sample_table",
    "value_bytes",
    "week_scan",
]
