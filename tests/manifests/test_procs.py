"""Pool workers die with their parent, even when the parent is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

PARENT = """
import os, signal, sys, time
from manifests import procs

def pid(_):
    time.sleep(0.2)
    return os.getpid()

if __name__ == "__main__":
    with procs.pool(2) as pool:
        pids = set(pool.map(pid, range(4)))
        print(" ".join(map(str, sorted(pids))), flush=True)
        pool.submit(time.sleep, 60)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_workers_of_a_killed_parent_exit(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True,
                          timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    assert pids
    for _ in range(100):  # bounded: up to 10 s for the kernel to deliver the signal
        if not any(_alive(p) for p in pids):
            break
        time.sleep(0.1)
    leftover = [p for p in pids if _alive(p)]
    for p in leftover:  # never leave them running, even when the test fails
        os.kill(p, signal.SIGKILL)
    assert leftover == []
