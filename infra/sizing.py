"""The event processor's CPU, memory, concurrency and instances, from the FinOps load model.

Pub/Sub counts a push the function refuses for lack of capacity (429) as a delivery attempt,
so a processor sized below its bursts sends valid messages to the dead-letter topic after
`MAX_DELIVERIES` attempts. The size therefore follows from the load, not from a guess:

- **CPU 1 vCPU.** Cloud Run hands an instance more than one request at a time only with at
  least one vCPU, and the processor spends most of a request waiting on BigQuery.
- **Duration** of one message: the FinOps profile's wait on BigQuery plus its CPU time on one
  full core (`livability.finops.Profile`: measured by `make bench`).
- **Concurrency**: requests an instance holds at once with its CPU at most `TARGET_CPU` busy,
  `TARGET_CPU x duration / cpu`, and no more than its memory holds worst-case requests
  (`WORST_REQUEST_MIB` each above `RUNTIME_MIB`: a 10 MB push of 10,000 rows, the most a
  message may hold, measured by tests/infra/test_sizing.py).
- **Instances**: gateways' reading windows are aligned to the epoch (edge/agent.py), so every
  `reading_minutes` the gateways whose batch is due send at once: `homes / rows_per_message`
  messages in a burst, which must drain within `drain_seconds` (well before a retried push
  reaches its tenth attempt); `HEADROOM` covers cold starts and uneven spread. At least
  `MIN_INSTANCES` so one instance's restart does not stop ingest.

docs/deploy.md shows the figures for each environment (a test keeps them equal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from infra.config import Environment
from livability.finops import Profile

CPU = 1  # vCPU
MEMORY_MIB = 1024
RUNTIME_MIB = 192  # the interpreter, the Google clients, pyarrow: an idle instance
WORST_REQUEST_MIB = 64  # one 10 MB push of 10,000 rows in flight (body, decoded, validated)
TARGET_CPU = Decimal("0.7")
HEADROOM = Decimal("1.5")
MIN_INSTANCES = 2
MAX_CONCURRENCY = 80  # Cloud Run's default; beyond it one instance's failure costs too much


@dataclass(frozen=True)
class ProcessorSize:
    """What the event processor's Cloud Function is deployed with, and why."""

    cpu: int
    memory_mib: int
    concurrency: int
    max_instances: int
    duration_ms: Decimal  # one message, at CPU vCPU
    burst: int  # messages arriving at once
    in_flight: Decimal  # requests in flight to drain the burst in time

    @property
    def memory(self) -> str:
        return f"{self.memory_mib}Mi"


def processor_size(env: Environment, profile: Profile | None = None) -> ProcessorSize:
    """The size of the event processor for `env`'s load ([load] in its environment file)."""
    profile = profile or Profile()
    load = env.load
    rows = Decimal(load.rows_per_message)
    cpu_ms = (profile.processor_cpu_ms + profile.processor_cpu_ms_per_row * rows) / CPU
    duration = profile.processor_io_ms + cpu_ms
    by_cpu = int(TARGET_CPU * duration / cpu_ms)
    by_memory = (MEMORY_MIB - RUNTIME_MIB) // WORST_REQUEST_MIB
    concurrency = max(1, min(by_cpu, by_memory, MAX_CONCURRENCY))
    burst = math.ceil(load.homes / load.rows_per_message)
    in_flight = burst * duration / 1000 / load.drain_seconds
    instances = math.ceil(in_flight * HEADROOM / concurrency)
    return ProcessorSize(
        cpu=CPU,
        memory_mib=MEMORY_MIB,
        concurrency=concurrency,
        max_instances=max(MIN_INSTANCES, instances),
        duration_ms=duration,
        burst=burst,
        in_flight=in_flight,
    )


def markdown_row(env: Environment) -> str:
    """The environment's row of the sizing table in docs/deploy.md."""
    size = processor_size(env)
    load = env.load
    return (
        f"| {env.name} | {load.homes:,} | {load.rows_per_message} | {size.burst:,} | "
        f"{size.duration_ms:.1f} ms | {size.in_flight:.1f} | {size.cpu} vCPU, "
        f"{size.memory_mib} MiB | {size.concurrency} | {size.max_instances} |"
    )
