"""Loading the code location imports only what building definitions needs: the code server, the
daemon's sensor ticks and every run's process pay each load, with 1,000 topics too (issue #16).
Kafka, Arrow, pandas, matplotlib and the AWS client load when a run or tick uses them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["kafka", "pyarrow", "pandas", "matplotlib", "dagster_aws", "boto3", "polars"]


def test_loading_the_code_location_imports_no_run_time_library():
    probe = (
        "import json, sys; import aggregator_assets.definitions as d; "
        "assert d.defs.get_repository_def().get_all_jobs(); "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []
