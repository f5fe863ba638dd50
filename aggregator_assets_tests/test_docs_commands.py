"""Every command block of README.md and docs/ is run by some test, from the text of the docs.

Each block is claimed by one anchor (a text only that block holds) and the test file that runs
it, which fetches it by that anchor (`doc_block(anchor)`, or `_run_block(stack, anchor)` in
ui/test_readme.py). A new block nobody claims fails here, so the docs cannot grow commands that
no test runs.
"""

from __future__ import annotations

from aggregator_assets_tests.docs_commands import ROOT, command_blocks

# Anchor (a text only that block contains) -> the test file that runs the block.
RUN_BY = {
    "make dev    #": "aggregator_assets_tests/ui/conftest.py",
    "--partition-range": "aggregator_assets_tests/ui/test_readme.py",
    "quarantine_iot_events GROUP BY reason": "aggregator_assets_tests/ui/test_readme.py",
    "aggregator-assets config-check my-config": "aggregator_assets_tests/ui/test_readme.py",
    "--select trip_summaries --partition": "aggregator_assets_tests/ui/test_readme.py",
    "benchmarks/ingest_benchmark.py": "aggregator_assets_tests/test_benchmarks.py",
    "dagster-daemon run -m aggregator_assets.definitions": (
        "aggregator_assets_tests/orchestration/test_e2e.py"
    ),
    "dagster-celery worker start": "aggregator_assets_tests/orchestration/test_celery.py",
}


def test_every_command_block_is_run_by_a_test():
    unclaimed = []
    for block in command_blocks():
        anchors = [a for a in RUN_BY if a in block.text]
        if len(anchors) != 1:
            unclaimed.append(f"{block.where} ({len(anchors)} anchors):\n{block.text}")
            continue
        runner = (ROOT / RUN_BY[anchors[0]]).read_text()
        assert f'"{anchors[0]}"' in runner, (
            f"{RUN_BY[anchors[0]]} does not fetch the block at {block.where} by its anchor"
        )
    assert not unclaimed, "command blocks no test runs:\n" + "\n".join(unclaimed)
