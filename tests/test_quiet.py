"""Import-time prints of third-party modules go to the log, never to stdout."""

import io
import logging
import sys
import threading
import time

from neurotunes._quiet import prints_to_log, quiet_import

log = logging.getLogger("test-quiet")


def test_first_import_prints_go_to_the_log(tmp_path, monkeypatch, caplog, capsys):
    (tmp_path / "chatty_module_for_test.py").write_text("print('found the library at /somewhere')\nVALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.DEBUG, logger="test-quiet"):
        module = quiet_import("chatty_module_for_test", log)
    assert module.VALUE == 3
    assert capsys.readouterr().out == ""
    assert "found the library at /somewhere" in caplog.text
    sys.modules.pop("chatty_module_for_test", None)


def test_an_imported_module_does_not_touch_stdout(monkeypatch):
    probe = io.StringIO()
    monkeypatch.setattr(sys, "stdout", probe)
    swaps = []
    monkeypatch.setattr("contextlib.redirect_stdout", lambda *a: swaps.append(a))  # would fail if used
    assert quiet_import("json", log) is sys.modules["json"]
    assert swaps == [] and sys.stdout is probe


def test_overlapping_redirects_from_threads_restore_stdout(monkeypatch):
    original = io.StringIO()
    monkeypatch.setattr(sys, "stdout", original)
    start = threading.Barrier(8)

    def work(k):
        start.wait()
        for _ in range(20):
            with prints_to_log(log):
                print("chatter", k)
                time.sleep(0.0005)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sys.stdout is original
    assert original.getvalue() == ""


def test_basic_pitch_and_tensorflow_imported_from_two_threads():
    """The Basic Pitch import hides TensorFlow from sys.modules for a moment; a training thread importing
    TensorFlow in that moment waits for it (one lock) instead of failing, and what other threads log
    meanwhile is kept (no process-wide logging switch).  A fresh interpreter: both imports are first ones."""
    import subprocess

    from tests.conftest import ROOT

    code = (
        "import importlib.abc, logging, sys, threading\n"
        "from neurotunes import transcribe\n"
        "from neurotunes._quiet import import_tensorflow\n"
        "hidden, tried = threading.Event(), threading.Event()\n"
        "class Pause(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'basic_pitch' and not hidden.is_set():\n"
        "            hidden.set()  # TensorFlow is hidden now: let the other thread try its import\n"
        "            tried.wait(3)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Pause())\n"
        "kept = []\n"
        "class Keep(logging.Handler):\n"
        "    def emit(self, record): kept.append(record.getMessage())\n"
        "other = logging.getLogger('other-thread')\n"
        "other.addHandler(Keep())\n"
        "results = {}\n"
        "def transcriber():\n"
        "    results['basic_pitch'] = transcribe._import_basic_pitch('onnx').__name__\n"
        "def trainer():\n"
        "    hidden.wait(60)\n"
        "    other.warning('a warning from another thread')\n"
        "    try:\n"
        "        results['tensorflow'] = type(import_tensorflow().constant(1.0)).__name__\n"
        "    except ImportError as exc:\n"
        "        results['tensorflow'] = f'ImportError: {exc}'\n"
        "    tried.set()\n"
        "threads = [threading.Thread(target=transcriber), threading.Thread(target=trainer)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print('RESULT', results['basic_pitch'], results['tensorflow'], kept, sys.modules['tensorflow'] is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RESULT basic_pitch EagerTensor ['a warning from another thread'] True" in out.stdout, (
        out.stdout[-2000:], out.stderr[-2000:])
