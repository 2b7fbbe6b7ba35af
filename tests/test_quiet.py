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
