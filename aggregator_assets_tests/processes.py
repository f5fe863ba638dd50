"""Stopping the service processes tests start, children included (nothing outlives the suite)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def stop_group(
    proc: subprocess.Popen, signals: tuple[int, ...] = (signal.SIGTERM,), wait_s: float = 30
) -> None:
    """Signal the process group `proc` leads (start it with `start_new_session=True`).

    Each signal in turn, as a user would (Ctrl-C, then a polite kill), waiting for the leader;
    then SIGKILL to whatever is left of the group: a wrapper such as `dagster-celery worker` or
    `dagster-daemon` can exit and leave its children (celery, gRPC code servers) behind.
    """
    for sig in signals:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait_s)
            break
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_when_ready(child: subprocess.Popen, ready: Path, timeout_s: float = 120) -> None:
    """SIGKILL a child once it touched `ready` (it stopped at the point a test wants it dead)."""
    try:
        deadline = time.monotonic() + timeout_s
        while not ready.exists():
            assert child.poll() is None, "the child ended before reaching the kill point"
            assert time.monotonic() < deadline, "the child never reached the kill point"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
