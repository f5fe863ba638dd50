"""The README's benchmark commands run as written, at a size that takes seconds, so a benchmark
cannot rot between the times someone measures with it. Figures are not asserted: speed is
measured in benchmarks/, not in tests."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from aggregator_assets_tests.docs_commands import ROOT, doc_block

# Options whose values size a run, and the small value each gets here.
SMALL = {"--events": "3000", "--rows": "20000", "--devices": "2", "--days": "2"}
FAST = ["--repeat", "1"]  # for the scripts that alternate sides several times


def _commands() -> list[list[str]]:
    block = doc_block("benchmarks/ingest_benchmark.py")
    commands = []
    for line in block.text.splitlines():
        argv = shlex.split(line.split("#")[0])
        if not argv:
            continue
        argv[0] = sys.executable if argv[0].endswith("python") else argv[0]
        argv = [SMALL.get(argv[i - 1], a) if i else a for i, a in enumerate(argv)]
        commands.append(argv)
    return commands


@pytest.mark.timeout(300)
@pytest.mark.parametrize("argv", _commands(), ids=lambda argv: argv[1].split("/")[-1])
def test_benchmark_runs(argv):
    help_text = subprocess.run([*argv[:2], "--help"], capture_output=True, text=True, cwd=ROOT)
    extra = FAST if "--repeat" in help_text.stdout else []
    done = subprocess.run([*argv, *extra], capture_output=True, text=True, cwd=ROOT, timeout=280)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "peak" in (done.stdout + done.stderr).lower(), "no peak memory printed"
