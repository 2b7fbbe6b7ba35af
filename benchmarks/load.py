"""Memory and latency under load: real browsers against one real server on this machine.

    .venv/bin/python -m benchmarks.load                 # 5 users, one of them also training
    .venv/bin/python -m benchmarks.load --users 3 --no-train

Starts ``streamlit run app.py`` with an empty data folder, then:

1. **One user alone** presses Generate three times; the time from the click to a
   playable take (the new take's heading and its play-along audio decoded) is
   the baseline.
2. **Five users at once** (five browser contexts, one Chromium): each generates,
   then transcribes a short recording of their own; one of them first starts a
   quick training run on the Train page.  Every user checks that the take and
   transcription they see are their own (no cross-session leakage).
3. After the training ends, the server's memory is watched for a minute.

The server's resident memory (its process alone, and with its children, where
training runs) is sampled every 0.2 s throughout.  Prints a table of figures,
targets, and the ratio of the loaded latency to the one-user baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TARGETS = {"peak_mb": 1500, "after_mb": 700, "alone_s": 2.0, "loaded_s": 8.0}


# --- the server and its memory -----------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        return []
    kids = [int(p) for p in out.split()]
    return kids + [g for k in kids for g in children(k)]


class MemoryWatch(threading.Thread):
    """Samples the server's RSS (alone, and with its child processes) every 0.2 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float, float]] = []  # (time, server MB, server + children MB)
        self.running = True

    def run(self) -> None:
        while self.running:
            server = rss_mb(self.pid)
            total = server + sum(rss_mb(k) for k in children(self.pid))
            self.samples.append((time.monotonic(), server, total))
            time.sleep(0.2)

    def peak(self, since: float = 0.0, until: float = float("inf")) -> tuple[float, float]:
        window = [(s, t) for when, s, t in self.samples if since <= when <= until] or [(0.0, 0.0)]
        return max(s for s, _ in window), max(t for _, t in window)

    def last(self) -> float:
        return self.samples[-1][1] if self.samples else 0.0


def start_server(port: int, data_dir: str) -> subprocess.Popen:
    env = {"MALLOC_ARENA_MAX": "2",  # as `bash run.sh app` and the Dockerfile start the server
           **os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "NEUROTUNES_DATA_DIR": data_dir}
    log = open(Path(data_dir) / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start; see " + str(Path(data_dir) / "server.log"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Streamlit's own protocol: a session as the browser's websocket sees it, without a browser -------------------
class ProtocolSession:
    """One app session driven over Streamlit's websocket protocol (what the browser's JavaScript sends), so the
    load on this machine is the server's alone: five Chromium tabs on the same two cores took about half the CPU."""

    def __init__(self, server: str):
        self.server = server
        self.ws = None
        self.pages: dict[str, str] = {}  # page name -> script hash
        self.elements: dict[tuple, object] = {}  # delta path -> Element of the last run
        self.widgets: dict[str, object] = {}  # widget id -> WidgetState to send on each run (what the user set)
        self.session_id = ""
        self.page_hash = ""
        self._requests = 0

    async def connect(self) -> None:
        import websockets

        url = self.server.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=60)

    async def close(self) -> None:
        await self.ws.close()

    async def run(self, page: str | None = None, *, triggers: tuple[str, ...] = (), timeout: float = 300.0) -> float:
        """Rerun the script (on ``page``), with the kept widget values and ``triggers`` (button ids); seconds
        until the server says the run finished."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if page is not None:
            self.page_hash = self.pages.get(page, "")
            self.widgets = {}
        msg = BackMsg()
        msg.rerun_script.page_script_hash = self.page_hash
        for state in self.widgets.values():
            msg.rerun_script.widget_states.widgets.append(state)
        for widget_id in triggers:
            trigger = msg.rerun_script.widget_states.widgets.add()
            trigger.id = widget_id
            trigger.trigger_value = True
        start = time.monotonic()
        await self.ws.send(msg.SerializeToString())
        self.elements = {}
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fwd.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in fwd.navigation.app_pages}
                self.page_hash = fwd.navigation.page_script_hash or self.page_hash
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self.elements[tuple(fwd.metadata.delta_path)] = fwd.delta.new_element
            elif kind == "file_urls_response":
                self._urls = fwd.file_urls_response
            elif kind == "script_finished" and fwd.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY,
                                                                       ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                return time.monotonic() - start  # a whole run; not a fragment, not one cut short by st.rerun()

    def find(self, kind: str, label: str):
        """The widget proto of ``kind`` whose label starts with ``label`` in the last run."""
        for element in self.elements.values():
            if element.WhichOneof("type") == kind:
                widget = getattr(element, kind)
                if widget.label.startswith(label):
                    return widget
        raise LookupError(f"no {kind} labelled {label!r}; saw {sorted(self.texts())[:20]}")

    def texts(self) -> list[str]:
        out = []
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            body = getattr(element, kind)
            for attr in ("body", "label", "text"):
                value = getattr(body, attr, None)
                if isinstance(value, str) and value:
                    out.append(value)
        return out

    def set_int(self, kind: str, label: str, value: int) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        widget = self.find(kind, label)
        state = WidgetState(id=widget.id)
        state.int_value = value
        self.widgets[widget.id] = state

    async def upload(self, label: str, name: str, data: bytes) -> None:
        """Upload a file as the browser does (ask for URLs, PUT with the XSRF token), then set the widget."""
        import urllib.request
        import uuid

        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        widget = self.find("file_uploader", label)
        self._requests += 1
        msg = BackMsg()
        msg.file_urls_request.request_id = str(self._requests)
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        await self.ws.send(msg.SerializeToString())
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await asyncio.wait_for(self.ws.recv(), 60))
            if fwd.WhichOneof("type") == "file_urls_response":
                urls = fwd.file_urls_response.file_urls[0]
                break
        jar = urllib.request.urlopen(self.server + "/_stcore/health").headers.get_all("Set-Cookie") or []  # as the app does
        xsrf = next((c.split(";")[0].split("=", 1)[1] for c in jar if c.startswith("_streamlit_xsrf=")), "")
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: audio/wav\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        upload_url = urls.upload_url if urls.upload_url.startswith("http") else self.server + urls.upload_url
        request = urllib.request.Request(upload_url, data=body, method="PUT", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": xsrf,
            "Cookie": f"_streamlit_xsrf={xsrf}"})
        await asyncio.to_thread(urllib.request.urlopen, request)
        state = WidgetState(id=widget.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.file_id, info.name, info.size = urls.file_id, name, len(data)
        info.file_urls.CopyFrom(urls)
        self.widgets[widget.id] = state


# --- one user ----------------------------------------------------------------------------------------
async def generate_once(page, number: int, seed: int | None = None) -> float:
    """Press Generate; seconds until take ``number`` is on screen with its audio decoded."""
    from playwright.async_api import expect

    if seed is not None:
        box = page.get_by_role("spinbutton", name="Seed")
        await box.fill(str(seed))
        await box.press("Tab")
    start = time.monotonic()
    await page.get_by_role("button", name="Generate").click()
    # The heading names the take and its settings ("Take 3 · temp 1.0 · seed 0 · ..."): match its number.
    await expect(page.get_by_role("heading", name=re.compile(rf"^Take {number}\b"))).to_be_visible()
    player = page.frame_locator("iframe[title='st.iframe']").first
    await expect(player.locator("audio")).to_have_js_property("readyState", 4)
    return time.monotonic() - start


async def transcribe(page, server: str, wav: Path) -> float:
    from playwright.async_api import expect

    await page.get_by_role("link", name="Transcribe").click()
    await expect(page.get_by_role("heading", name="Transcribe", exact=True)).to_be_visible()
    start = time.monotonic()
    await page.get_by_test_id("stMainBlockContainer").locator("input[type=file]").set_input_files([str(wav)])
    await page.get_by_role("button", name="Transcribe").click()
    await expect(page.get_by_role("heading", name=wav.name)).to_be_visible(timeout=180_000)
    await expect(page.get_by_test_id("stMetricValue").first).to_be_visible()
    return time.monotonic() - start


async def start_training(page) -> None:
    from playwright.async_api import expect

    await page.get_by_role("link", name="Train").click()
    await expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    await page.get_by_role("button", name="model_training Train", exact=True).click()
    await expect(page.get_by_text("Epoch", exact=False).first).to_be_visible(timeout=180_000)


#: What the Train page says when a run has ended (neurotunes.ui.jobs: the reason, then whether it learned).
ENDED = ("Finished", "Stopped", "Learned:", "Still learning:")


async def training_done(page, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = await page.locator("body").inner_text()
        if any(word in body for word in ENDED) or "still learning" in body.lower():
            return True
        if "Training failed" in body:
            raise RuntimeError("training failed in the browser: " + body[-500:])
        await asyncio.sleep(1.0)
    return False


async def user(browser, server: str, index: int, wav: Path, train: bool, results: dict) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(180_000)
    expect.set_options(timeout=180_000)
    await page.goto(server)
    await expect(page.get_by_role("heading", name="Generate", exact=True)).to_be_visible()
    if train:
        await start_training(page)
        await page.get_by_role("link", name="Generate").click()
        await expect(page.get_by_role("heading", name="Generate", exact=True)).to_be_visible()
    # Each user their own seed: the caption of the take they see must carry it (no leakage).
    seed = 100 + index
    results.setdefault("generate_s", []).append(await generate_once(page, 1, seed))
    caption = await page.get_by_text("temperature ").first.inner_text()
    results.setdefault("leaks", []).append(f"seed {seed} " not in caption)
    results.setdefault("transcribe_s", []).append(await transcribe(page, server, wav))
    errors = await page.get_by_test_id("stException").count() + await page.get_by_test_id("stAlertContentError").count()
    results.setdefault("errors", []).append(errors)
    results.setdefault("pages", []).append((context, page))


async def protocol_user(server: str, index: int, wav: Path, train: bool, results: dict) -> None:
    """The same user as :func:`user`, over Streamlit's protocol."""
    from streamlit.proto.Alert_pb2 import Alert

    session = ProtocolSession(server)
    await session.connect()
    await session.run()
    if train:
        await session.run("Train")
        await session.run(triggers=(session.find("button", "Train").id,))
        results["trainer"] = session
        await session.run("Generate")
    seed = 100 + index
    session.set_int("number_input", "Seed", seed)
    results.setdefault("generate_s", []).append(await session.run(triggers=(session.find("button", "Generate").id,)))
    results.setdefault("leaks", []).append(not any(f"seed {seed} ·" in t for t in session.texts()))
    await session.run("Transcribe")
    start = time.monotonic()
    await session.upload("Audio files", wav.name, wav.read_bytes())
    await session.run()
    await session.run(triggers=(session.find("button", "Transcribe").id,))
    results.setdefault("transcribe_s", []).append(time.monotonic() - start)
    if wav.name not in session.texts():
        results.setdefault("missing", []).append(wav.name)
    errors = sum(1 for e in session.elements.values()
                 if e.WhichOneof("type") == "exception"
                 or (e.WhichOneof("type") == "alert" and e.alert.format == Alert.ERROR))
    results.setdefault("errors", []).append(errors)
    if not train:
        await session.close()


async def protocol_training_done(session: "ProtocolSession", timeout_s: float) -> bool:
    await session.run("Train")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = " ".join(session.texts())
        if "Training failed" in text:
            raise RuntimeError("training failed: " + text[-500:])
        if any(word in text for word in ENDED):
            await session.close()
            return True
        await asyncio.sleep(2.0)
        await session.run()
    return False


async def run_with_protocol(server: str, wavs: list[Path], args, watch: MemoryWatch):
    """Phases 1-3 over Streamlit's protocol; returns the figures :func:`main_async` prints."""
    alone_user = ProtocolSession(server)
    await alone_user.connect()
    await alone_user.run()
    button = alone_user.find("button", "Generate").id
    warm = await alone_user.run(triggers=(button,))
    alone = [await alone_user.run(triggers=(button,)) for _ in range(3)]
    await alone_user.close()
    base_mb = watch.last()
    results: dict = {}
    started = time.monotonic()
    await asyncio.gather(*(protocol_user(server, i, wavs[i], args.train and i == 0, results)
                           for i in range(args.users)))
    ended, done = time.monotonic(), None
    if args.train:
        done = await protocol_training_done(results["trainer"], args.train_timeout)
        ended = time.monotonic()
    return warm, alone, results, base_mb, started, ended, done


async def run_with_browsers(server: str, wavs: list[Path], args, watch: MemoryWatch):
    """Phases 1-3 in real Chromium tabs (which share this machine's cores with the server)."""
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # 1. One user alone (after one warm-up take: the model and soundfont load once per process).
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(120_000)
        expect.set_options(timeout=120_000)
        await page.goto(server)
        warm = await generate_once(page, 1)
        alone = [await generate_once(page, n) for n in (2, 3, 4)]
        await context.close()
        base_mb = watch.last()
        # 2. Five at once, one of them training.
        results: dict = {}
        started = time.monotonic()
        await asyncio.gather(*(user(browser, server, i, wavs[i], args.train and i == 0, results)
                               for i in range(args.users)))
        ended, done = time.monotonic(), None
        if args.train:
            trainer_page = results["pages"][0][1]
            await trainer_page.get_by_role("link", name="Train").click()
            done = await training_done(trainer_page, args.train_timeout)
            ended = time.monotonic()
        for context, _ in results["pages"]:
            await context.close()
        await browser.close()
    return warm, alone, results, base_mb, started, ended, done


async def main_async(args) -> None:
    from neurotunes.render import score_to_wav
    from neurotunes.score import Note, Score

    work = Path(tempfile.mkdtemp(prefix="neurotunes-load-"))
    wavs = []
    for i in range(args.users):  # each user their own recording: no shared analysis to hide the load
        pitches = [60 + (i * 2 + k * 5) % 12 for k in range(8)]
        notes = tuple(Note(pitch=p, start=k * 0.4, end=k * 0.4 + 0.35, velocity=90) for k, p in enumerate(pitches))
        wav = work / f"user{i + 1}.wav"
        wav.write_bytes(score_to_wav(Score(notes=notes)))
        wavs.append(wav)
    port = free_port()
    proc = start_server(port, str(work))
    server = f"http://127.0.0.1:{port}"
    watch = MemoryWatch(proc.pid)
    watch.start()
    table: list[tuple[str, str, str]] = []
    try:
        run = run_with_protocol if args.client == "protocol" else run_with_browsers
        warm, alone, results, base_mb, started, ended, done = await run(server, wavs, args, watch)
        if done is not None:
            table.append(("training finished", "yes" if done else "NO (timed out)", "yes"))
        while time.monotonic() < ended + args.settle:  # memory settles
            await asyncio.sleep(1.0)
        server_peak, total_peak = watch.peak(since=started)
        after = watch.last()
    finally:
        watch.running = False
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

    alone_med = statistics.median(alone)
    loaded = results["generate_s"]
    table += [
        ("first take, cold (model + soundfont load)", f"{warm:.2f} s", "-"),
        ("Generate -> playable audio, one user (median of 3)", f"{alone_med:.2f} s", f"<= {TARGETS['alone_s']:g} s"),
        (f"Generate -> playable audio, {args.users} at once (max)", f"{max(loaded):.2f} s",
         f"<= {TARGETS['loaded_s']:g} s"),
        (f"  ... median; ratio to one user", f"{statistics.median(loaded):.2f} s; "
                                             f"{statistics.median(loaded) / alone_med:.1f}x", "-"),
        ("Transcribe 3 s recording, each user (max)", f"{max(results['transcribe_s']):.2f} s", "-"),
        ("errors shown to users", str(sum(results["errors"])), "0"),
        ("takes that showed another user's settings", str(sum(results["leaks"])), "0"),
        ("server RSS before the crowd", f"{base_mb:.0f} MB", "-"),
        ("users whose transcription did not appear", str(len(results.get("missing", []))), "0"),
        ("server RSS peak (server process)", f"{server_peak:.0f} MB", f"<= {TARGETS['peak_mb']} MB"),
        ("  with its child processes (training)", f"{total_peak:.0f} MB", "-"),
        (f"server RSS {args.settle:.0f} s after the {'training' if args.train else 'crowd'} ended",
         f"{after:.0f} MB", f"<= {TARGETS['after_mb']} MB"),
    ]
    width = max(len(r[0]) for r in table)
    print(f"\nclient: {args.client}; {args.users} users{'; one trains' if args.train else ''}")
    print(f"{'measure':<{width}}  {'value':>22}  target")
    for name, value, target in table:
        print(f"{name:<{width}}  {value:>22}  {target}")
    print(f"\nserver log: {work / 'server.log'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--client", choices=("protocol", "browser"), default="protocol",
                        help="protocol: Streamlit's websocket protocol (the server's load alone); browser: Chromium tabs")
    parser.add_argument("--no-train", dest="train", action="store_false", help="nobody trains")
    parser.add_argument("--train-timeout", type=float, default=600.0)
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to watch memory after the load")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
