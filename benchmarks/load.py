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
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "NEUROTUNES_DATA_DIR": data_dir}
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
    await expect(page.get_by_role("heading", name=f"Take {number}", exact=True)).to_be_visible()
    player = page.frame_locator("iframe[title='st.iframe']").first
    await expect(player.locator("audio")).to_have_js_property("readyState", 4)
    return time.monotonic() - start


async def transcribe(page, server: str, wav: Path) -> float:
    from playwright.async_api import expect

    await page.get_by_role("link", name="Transcribe").click()
    await expect(page.get_by_role("heading", name="Transcribe")).to_be_visible()
    start = time.monotonic()
    await page.get_by_test_id("stMainBlockContainer").locator("input[type=file]").set_input_files([str(wav)])
    await page.get_by_role("button", name="Transcribe").click()
    await expect(page.get_by_role("heading", name=wav.name)).to_be_visible(timeout=180_000)
    await expect(page.get_by_test_id("stMetricValue").first).to_be_visible()
    return time.monotonic() - start


async def start_training(page) -> None:
    from playwright.async_api import expect

    await page.get_by_role("link", name="Train").click()
    await expect(page.get_by_role("heading", name="Train")).to_be_visible()
    await page.get_by_role("button", name="model_training Train", exact=True).click()
    await expect(page.get_by_text("Epoch", exact=False).first).to_be_visible(timeout=180_000)


async def training_done(page, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = await page.locator("body").inner_text()
        if "Finished" in body or "still learning" in body.lower() or "Stopped" in body:
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
    await expect(page.get_by_role("heading", name="Generate")).to_be_visible()
    if train:
        await start_training(page)
        await page.get_by_role("link", name="Generate").click()
        await expect(page.get_by_role("heading", name="Generate")).to_be_visible()
    # Each user their own seed: the caption of the take they see must carry it (no leakage).
    seed = 100 + index
    results.setdefault("generate_s", []).append(await generate_once(page, 1, seed))
    caption = await page.get_by_text("temperature ").first.inner_text()
    results.setdefault("leaks", []).append(f"seed {seed} " not in caption)
    results.setdefault("transcribe_s", []).append(await transcribe(page, server, wav))
    errors = await page.get_by_test_id("stException").count() + await page.get_by_test_id("stAlertContentError").count()
    results.setdefault("errors", []).append(errors)
    results.setdefault("pages", []).append((context, page))


async def main_async(args) -> None:
    from playwright.async_api import async_playwright, expect

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
            loaded_end = time.monotonic()
            trained_at = None
            if args.train:
                trainer_page = results["pages"][0][1]
                await trainer_page.get_by_role("link", name="Train").click()
                done = await training_done(trainer_page, args.train_timeout)
                trained_at = time.monotonic()
                table.append(("training finished in the browser", "yes" if done else "NO (timed out)", "yes"))
            for context, _ in results["pages"]:
                await context.close()
            await browser.close()
        # 3. Memory settles.
        settle_from = trained_at or loaded_end
        while time.monotonic() < settle_from + args.settle:
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
        ("server RSS peak (server process)", f"{server_peak:.0f} MB", f"<= {TARGETS['peak_mb']} MB"),
        ("  with its child processes (training)", f"{total_peak:.0f} MB", "-"),
        (f"server RSS {args.settle:.0f} s after the {'training' if args.train else 'crowd'} ended",
         f"{after:.0f} MB", f"<= {TARGETS['after_mb']} MB"),
    ]
    width = max(len(r[0]) for r in table)
    print(f"\n{'measure':<{width}}  {'value':>22}  target")
    for name, value, target in table:
        print(f"{name:<{width}}  {value:>22}  {target}")
    print(f"\nserver log: {work / 'server.log'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--no-train", dest="train", action="store_false", help="nobody trains")
    parser.add_argument("--train-timeout", type=float, default=600.0)
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to watch memory after the load")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
