"""The gateway's memory under a busy radio: 100 sensors advertising once a second for a full
10-minute window (60,000 reading packets, 6,000 min/max packets) stays within the 60 MB
budget. A fresh interpreter runs the agent on the simulated radio (bleak's scanner at the
library boundary, real advert bytes) on virtual time, with a real SQLite outbox, and reports
its peak resident memory (VmHWM) from /proc (`livability.sim.busy_radio`). A memory bound,
not a timing: nothing here depends on how fast the machine is. `make bench` reports the same
figure against a baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BUDGET_MB = 60
SENSORS = 100


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_100_sensors_at_1_hz_for_a_window_stay_under_the_budget(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "livability.sim.busy_radio", str(SENSORS), str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    peak_mb = figures["VmHWM"] / 1024
    print(f"agent peak RSS, {SENSORS} sensors at 1 Hz for a window: {peak_mb:.1f} MB")  # -rP
    assert figures["adverts"] >= SENSORS * 600
    assert figures["readings"] == figures["sent"] == SENSORS
    assert peak_mb < BUDGET_MB, f"peak RSS {peak_mb:.1f} MB"
