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


def test_short_jobs_are_served_before_long_ones_that_wait_and_arrival_order_within_a_kind():
    import threading
    import time

    from neurotunes.ui.queue import PRIORITY, JobLine

    line, served, started = JobLine(slots=1), [], []

    def job(name, priority):
        started.append(name)
        with line.slot(priority=priority):
            served.append(name)

    with line.slot():  # the one slot is busy: everything below waits
        threads = []
        for name, what in [("t1", "Transcribing"), ("e1", "Evaluating"), ("g1", "Composing"),
                           ("t2", "Transcribing"), ("g2", "Composing")]:
            threads.append(threading.Thread(target=job, args=(name, PRIORITY[what])))
            threads[-1].start()
            while line.waiting() < len(threads):  # arrival order is the order of the list
                time.sleep(0.005)
    for t in threads:
        t.join(timeout=10)
    assert served == ["g1", "g2", "t1", "t2", "e1"]
