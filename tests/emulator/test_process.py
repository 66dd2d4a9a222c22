"""The emulator process: it exits when its parent dies (SIGTERM and the ready file
are covered with the environment configuration in test_throttling_and_faults.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

from emu_harness import EMULATOR, wait_until


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_exits_when_parent_dies() -> None:
    ready = tempfile.mktemp(prefix="sg-emulator-ready-")
    # an intermediate parent that starts the emulator, waits for it, and dies
    launcher = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, {EMULATOR!r}, '--port', '0', '--ready-file', {ready!r}],"
        " stdout=subprocess.DEVNULL)\n"
        "deadline = time.monotonic() + 30\n"
        f"while not os.path.exists({ready!r}) and time.monotonic() < deadline and p.poll() is None:\n"
        "    time.sleep(0.02)\n"
        "print(p.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=60)
    pid = int(out.stdout.strip())
    try:
        wait_until(lambda: not _alive(pid), 10.0, "the orphaned emulator to exit", interval=0.05)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
