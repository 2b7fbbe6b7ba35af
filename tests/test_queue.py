"""The server's line of heavy jobs gives freed memory back to the operating system."""

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import threading
    import numpy as np
    from neurotunes.ui.queue import JobLine

    def rss_mb():
        return int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1]) // 1024

    def job():  # what a take or a transcription does: many buffers of a few MB, freed at the end
        big = np.ones(16 * 1024 * 1024 // 8)  # freeing it raises glibc's mmap threshold, as real work does
        del big
        blocks = [np.ones(1024 * 1024 // 8 - 100) for _ in range(300)]
        del blocks

    line = JobLine(slots=1)
    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    held = rss_mb()
    with line.slot():
        pass  # the line empties: freed memory goes back
    print(held, rss_mb())
""")


def test_freed_memory_goes_back_when_the_line_empties():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    held, after = map(int, out.stdout.split())
    assert held > 250, f"the job did not hold memory ({held} MB): the test proves nothing"
    assert after < held - 200, (held, after)
