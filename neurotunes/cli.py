"""``python -m neurotunes`` — the same functions the app's pages call.

Every subcommand exits 0 on success.  On bad input it prints one line,
``neurotunes: error: ...``, to stderr and exits non-zero, with no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from . import constants as C
from . import encodings, models
from .batch_transcribe import BatchReport, FileResult, transcribe_folder
from .bundle import UNSUGGESTED, load_bundle
from .config import GenerateConfig, ModelConfig, PostProcessConfig, TrainConfig, TranscribeConfig, settings_of
from .corpus import load_corpus
from .dataset import MAX_ZIP_TOTAL_MB, scores_from_file, scores_from_files, split_dataset, supported_suffixes
from .encodings import EncodingConfig
from .errors import NeuroTunesError
from .evaluate import REFERENCE_SETS, check_sample_count, evaluate_models, reference_set
from .generate import compose
from .harmonize import DEFAULT_TEMPERATURE as HARMONIZE_TEMPERATURE, harmonize
from .metrics import DISTRIBUTION_FEATURES, FEATURE_LABELS, repetition_stats
from .midi_io import read_midi, write_midi
from .render import render_file
from .score import Score
from .share import recipe_from_score
from .text import printable_name
from .shards import DEFAULT_ITEMS_PER_SHARD, ShardSet, prepare
from .training import Checkpoint, train, worker_role
from .transcribe import PRESET_ALIASES, PRESETS, transcribe_audio

log = logging.getLogger("neurotunes")

EXIT_BAD_INPUT = 2
EXIT_PARTIAL = 3  # some inputs failed, the others were written


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _progress_bar(label: str) -> Callable[[float], None]:
    """A one-line terminal progress bar (only when stderr is a terminal)."""
    tty = sys.stderr.isatty()

    def update(fraction: float) -> None:
        if not tty:
            return
        width = 30
        filled = int(round(width * min(max(fraction, 0.0), 1.0)))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {fraction:5.0%}")
        if fraction >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return update


# --- input files ---------------------------------------------------------
def _shown(path: Path | str) -> str:
    """A path for a one-line message: control characters escaped, non-UTF-8 bytes as \\xNN."""
    return printable_name(str(path))


def _one_line(message: object) -> str:
    """A library's message on one line (a few quote multi-line text from the file they failed on)."""
    return " ".join(str(message).split())


def _read_input(path: Path, what: str, cap_mb: int = C.MAX_UPLOAD_MB) -> bytes:
    """The bytes of one input file; a folder, an unreadable file or one over the cap is refused in one sentence.

    The size is checked before reading, so a huge (or sparse) file costs nothing.
    """
    try:
        if path.is_dir():
            raise NeuroTunesError(f"{_shown(path)} is a folder; give {what} file")
        size = path.stat().st_size
        if size > cap_mb * 1024 * 1024:
            raise NeuroTunesError(f"{_shown(path.name)} is {size / 1e6:,.0f} MB; files over {cap_mb} MB are refused")
        return path.read_bytes()
    except OSError as exc:
        raise NeuroTunesError(f"cannot read {_shown(path)}: {exc.strerror or exc}") from None


def _check_output_folder(out: Path) -> None:
    """Refuse an output whose folder is missing before any slow work, not after it."""
    if not out.parent.is_dir():
        raise NeuroTunesError(f"cannot write {_shown(out)}: the folder {_shown(out.parent)} does not exist")


@contextlib.contextmanager
def _native_stderr_to_log(verbose: bool) -> Iterator[None]:
    """Send what C libraries write straight to file descriptor 2 to the debug log (``-v`` shows it instead).

    libmpg123 prints a line per damaged frame of a cut-off MP3; the CLI's stderr is one line per
    problem, and our own message already says what is wrong.  Python's ``sys.stderr`` (the progress
    bar) keeps writing to the terminal.
    """
    try:
        redirect = not verbose and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # stderr replaced (tests, embedding): nothing to redirect
        redirect = False
    if not redirect:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        sys.stderr = open(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding,
                          errors=python_stderr.errors)
        try:
            yield
        finally:
            sys.stderr.close()
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            said = sink.read().decode(errors="replace").strip()
            if said:
                log.debug("native libraries wrote: %s", said)


# --- transcribe ---------------------------------------------------------
def cmd_transcribe(args: argparse.Namespace) -> int:
    base, base_post = PRESETS[PRESET_ALIASES[args.preset]]
    pick = lambda value, default: default if value is None else value  # noqa: E731 - flag given or preset's
    config = TranscribeConfig(
        onset_threshold=pick(args.onset_threshold, base.onset_threshold),
        frame_threshold=pick(args.frame_threshold, base.frame_threshold),
        minimum_note_length_ms=pick(args.min_note_ms, base.minimum_note_length_ms),
        minimum_frequency=pick(args.min_freq, base.minimum_frequency),
        maximum_frequency=pick(args.max_freq, base.maximum_frequency),
        midi_tempo=pick(args.midi_tempo, base.midi_tempo),
        melodia_trick=pick(args.melodia, base.melodia_trick),
        multiple_pitch_bends=pick(args.multiple_pitch_bends, base.multiple_pitch_bends),
        max_seconds=args.max_seconds,
    )
    post = PostProcessConfig(
        quantize=pick(args.quantize, base_post.quantize),
        monophonic=pick(args.monophonic, base_post.monophonic),
        min_note_ms=pick(args.drop_shorter_ms, base_post.min_note_ms),
        normalize_velocity=pick(args.normalize_velocity, base_post.normalize_velocity),
        tempo_bpm=args.grid_tempo,
    )
    inputs = [Path(p) for p in args.audio]
    out = Path(args.output)
    if len(inputs) > 1 or inputs[0].is_dir():
        # A folder or several inputs: a batch into the folder -o, resumable through its manifest.json.
        if out.exists() and not out.is_dir():
            raise NeuroTunesError(f"{_shown(out)} is a file; with a folder or several inputs -o must be a folder")

        def started(report: BatchReport, to_do: int) -> None:
            for warning in report.warnings:
                print(f"neurotunes: warning: {_one_line(warning)}", file=sys.stderr)
            skipped = f", {len(report.skipped)} already done (skipped)" if report.skipped else ""
            pool = f" with {args.workers} workers" if args.workers > 1 and to_do > 1 else ""
            print(f"neurotunes: {report.total} audio files{skipped}; transcribing {to_do}{pool}", file=sys.stderr)

        def finished(result: FileResult, done: int, total: int) -> None:
            for warning in result.warnings:
                print(f"neurotunes: warning: {_one_line(warning)}", file=sys.stderr)
            if result.ok:
                same = f", same content as {_shown(result.duplicate_of)}" if result.duplicate_of else ""
                line = f"{_shown(result.source)} -> {_shown(result.target)} ({result.notes} notes{same})"
                print(f"[{done}/{total}] {line}", file=sys.stderr, flush=True)
            else:  # an error line starts as every error line of the CLI does
                print(f"neurotunes: error: [{done}/{total}] {_one_line(result.error)}", file=sys.stderr, flush=True)

        with _native_stderr_to_log(args.verbose):
            report = transcribe_folder(inputs, out, config, post, workers=args.workers, backend=args.backend,
                                       on_result=finished, on_start=started)
        print(f"neurotunes: {report.summary()}; manifest {_shown(report.manifest)}", file=sys.stderr)
        if report.failed:
            return EXIT_BAD_INPUT if report.failed == report.total else EXIT_PARTIAL
        return 0
    into_folder = out.is_dir()  # one file into an existing folder: as it always was, no manifest
    if not into_folder:
        _check_output_folder(out)
    failures = 0
    for path in inputs:
        target = out / (path.stem + ".mid") if into_folder else out
        try:
            data = _read_input(path, "an audio")
            with _native_stderr_to_log(args.verbose):
                score = transcribe_audio(data, config, post, name=_shown(path.name),
                                         on_progress=_progress_bar(_shown(path.name)), backend=args.backend)
            # Suspect input (a truncated file, noise) is transcribed, and the user is told why to doubt it.
            for warning in score.metadata.get("warnings", []):
                print(f"neurotunes: warning: {_one_line(warning)}", file=sys.stderr)
            if into_folder:
                out.mkdir(parents=True, exist_ok=True)  # only now: a batch that fails leaves no empty folder
            write_midi(score, target)
            print(f"{_shown(path)} -> {_shown(target)} ({len(score)} notes)")
        except NeuroTunesError as exc:
            failures += 1
            print(f"neurotunes: error: {_one_line(exc)}", file=sys.stderr)
    if failures:
        return EXIT_BAD_INPUT if failures == len(inputs) else EXIT_PARTIAL
    return 0


# --- train --------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    if args.shards and (args.corpus or args.midi or args.files):
        raise NeuroTunesError("--shards is the whole training data: leave out --corpus, --midi and --files")
    if not (args.corpus or args.midi or args.files or args.shards):
        raise NeuroTunesError("give training data: --corpus NAME, --midi FOLDER, --files FILE... or --shards DIR")
    model_config = ModelConfig(
        arch=args.arch, units=args.units, layers=args.layers, dropout=args.dropout, embedding_dim=args.embedding
    )
    train_config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        sequence_length=args.sequence_length,
        learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule,
        strategy=args.strategy,
        patience=args.patience,
        transpose_semitones=args.transpose,
        seed=args.seed,
        max_steps_per_epoch=args.max_steps,
    )
    resume = Checkpoint.load(args.resume) if args.resume else None
    if resume is not None:
        model_config = resume.bundle.model
        adam = "with its optimizer state" if resume.optimizer is not None else "with a fresh optimizer (no saved state)"
        print(f"resuming after epoch {resume.epoch}, {adam}", file=sys.stderr)
    role = worker_role() if args.strategy == "multiworker" else None
    if args.strategy == "multiworker" and role is None:
        raise NeuroTunesError("--strategy multiworker needs TF_CONFIG (see README: Training on a cluster)")
    if args.shards:
        dataset = ShardSet.load(args.shards)
        totals = dataset.totals
        print(f"shards: {totals['train']['pieces']} training / {totals['validation']['pieces']} validation pieces "
              f"({totals['train']['tokens']:,} tokens, {dataset.encoding.name} encoding), streamed from "
              f"{len(dataset.files['train'])} files", file=sys.stderr)
    else:
        scores, description = _training_scores(args)
        encoding = (resume.bundle.encoding if resume is not None
                    else EncodingConfig(name=args.encoding, steps_per_quarter=args.grid))
        dataset = split_dataset(scores, validation_fraction=args.validation, seed=args.seed,
                                description=description, key_normalization=args.key_normalize, encoding=encoding)
        print(f"dataset: {len(dataset.train)} training / {len(dataset.validation)} validation pieces",
              file=sys.stderr)
    bar = _progress_bar("training")

    def report(p) -> None:
        bar(p.fraction)
        if p.batch is None:
            val = f" val_loss {p.val_loss:.3f}" if p.val_loss is not None else ""
            eta = f" (about {p.eta_s:.0f} s left)" if p.eta_s else ""
            print(f"epoch {p.epoch}/{p.epochs} loss {p.loss:.3f} acc {p.accuracy:.3f}{val}{eta}", file=sys.stderr)

    def save_checkpoint(checkpoint) -> None:
        checkpoint.save(Path(args.checkpoint_dir) / f"epoch-{checkpoint.epoch:03d}")

    result = train(dataset, model_config, train_config, on_progress=report,
                   # every worker of a multi-worker run holds the same weights: the chief alone saves them
                   on_epoch=save_checkpoint if args.checkpoint_dir and (role is None or role[0] == 0) else None,
                   resume_from=resume.bundle if resume is not None else None,
                   resume_optimizer=resume.optimizer if resume is not None else None,
                   name=args.name or Path(args.output).name)
    if role is not None:
        index, workers = role
        print(f"worker {index + 1} of {workers}: weights {result.bundle.weights_digest()}", file=sys.stderr)
        if index != 0:  # every worker holds the same weights; the chief (worker 0) writes them
            print(f"worker {index + 1} of {workers} done (worker 1 writes the model)")
            return 0
    if args.output.lower().endswith(".zip"):
        out = Path(args.output)
        out.write_bytes(result.bundle.to_zip())  # a .zip holds the bundle's files only: no optimizer state
    else:
        out = result.checkpoint.save(args.output)
    nll = result.bundle.metrics.val_nll_per_note
    extra = f", validation NLL {nll:.3f} nats/note" if nll else ""
    print(f"saved model to {out} (hash {result.bundle.short_hash}{extra})")
    return 0


# --- prepare ------------------------------------------------------------
def cmd_prepare(args: argparse.Namespace) -> int:
    encoding = EncodingConfig(name=args.encoding, steps_per_quarter=args.grid)
    print(f"preparing {', '.join(args.sources)} -> {_shown(Path(args.output))} with {args.workers} worker(s)",
          file=sys.stderr)
    pipeline_args = []
    for option in args.pipeline_args or []:
        name, sep, value = option.partition("=")
        if not sep or not name.strip("-"):
            raise NeuroTunesError(f"--runner-option takes NAME=VALUE, not {option!r}")
        pipeline_args.append(f"--{name.lstrip('-')}={value}")
    with _native_stderr_to_log(args.verbose):  # Beam's worker processes log every step to stderr
        report = prepare(args.sources, args.output, encoding=encoding, validation_fraction=args.validation,
                         key_normalization=args.key_normalize, workers=args.workers,
                         items_per_shard=args.per_shard, limit=args.limit or None, runner=args.runner,
                         pipeline_args=pipeline_args)
    shards = report.manifest
    for error in shards.errors[:MAX_REASONS_SHOWN * 5]:
        print(f"neurotunes: skipped {_one_line(error['reason'])}", file=sys.stderr)
    if len(shards.errors) > MAX_REASONS_SHOWN * 5:
        print(f"neurotunes: ... and {len(shards.errors) - MAX_REASONS_SHOWN * 5} more (see manifest.json)",
              file=sys.stderr)
    t, v = shards.totals["train"], shards.totals["validation"]
    reused = f", {report.shards_reused} already done" if report.shards_reused else ""
    print(f"{t['pieces'] + v['pieces']} pieces ({t['pieces']} training, {v['pieces']} validation; "
          f"{t['tokens'] + v['tokens']:,} tokens) in {report.shards_made + report.shards_reused} shards "
          f"({report.shards_made} made{reused}) in {report.seconds:.1f} s; {len(shards.errors)} unreadable; "
          f"manifest: {_shown(Path(args.output) / 'manifest.json')}")
    return EXIT_PARTIAL if shards.errors else 0


def _training_scores(args: argparse.Namespace):
    scores, parts = [], []
    paths = [Path(p) for p in args.files or []]
    if args.midi:
        folder = Path(args.midi)
        if not folder.is_dir():
            raise NeuroTunesError(f"{folder} is not a folder of MIDI files")
        paths += _music_files_in(folder)
    if paths:
        got = _read_scores(paths)
        if not got:
            raise NeuroTunesError(f"none of the {len(paths)} files could be used")
        scores += got
        parts.append(f"{len(got)} pieces from files")
    for key in args.corpus or []:
        errors = []
        got = load_corpus(key, limit=args.limit or None, errors=errors,
                          progress=lambda i, n: _progress_bar(f"parsing {key}")(i / n))
        for e in errors:
            print(f"neurotunes: skipping {e}", file=sys.stderr)
        scores += got
        parts.append(f"music21 {key} corpus" + (f" (first {args.limit})" if args.limit else ""))
    return scores, ", ".join(parts)


# --- generate -----------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    primer = read_midi(args.primer) if args.primer else None
    if args.recipe:
        # --model left at "default": the recipe's own model, found among the shipped ones by its hash.
        recipe = recipe_from_score(read_midi(args.recipe), model=None if args.model == "default" else args.model,
                                   source=str(args.recipe))
        bundle, config, primer = recipe.bundle, recipe.config, recipe.primer
    else:
        bundle = load_bundle(args.model)
        config = bundle.generate_config(**given_settings(GenerateConfig, args))
    bar, count = _progress_bar("generating"), args.variations
    takes = compose(bundle, config, count=count, primer=primer,
                    on_progress=lambda take, done, wanted: bar((take - 1 + done / wanted) / count))
    out = Path(args.output)
    paths = [out] if count == 1 else [out.with_name(f"{out.stem}-{i + 1}{out.suffix or '.mid'}") for i in range(count)]
    for take, path in zip(takes, paths):
        score = take.score
        write_midi(score, path)
        stats = repetition_stats(score)
        warn = " — warning: this take collapsed into repeats" if stats["collapsed"] else ""
        if score.metadata.get("stopped_early"):
            warn += f" — {score.metadata['stopped_early']}"
        print(f"wrote {path}: {len(score)} notes, {score.duration:.1f} s (model {bundle.name}, "
              f"seed {take.config.seed}){warn}")
    return 0


# --- harmonize ----------------------------------------------------------
HARMONIZE_OUTPUTS = (".mid", ".midi", ".musicxml", ".xml", ".wav", ".mp3")


def read_melody(path: Path, *, verbose: bool = False, backend: str | None = None) -> Score:
    """A melody from a MIDI, MusicXML or ABC file (its first piece) or a recording (Basic Pitch, melody preset)."""
    data = _read_input(path, "a melody")
    suffix = path.suffix.lower().lstrip(".")
    if suffix in C.AUDIO_EXTENSIONS:
        config, post = PRESETS[PRESET_ALIASES["melody"]]
        with _native_stderr_to_log(verbose):
            return transcribe_audio(data, config, post, name=_shown(path.name),
                                    on_progress=_progress_bar(_shown(path.name)), backend=backend)
    return scores_from_file(_shown(path.name), data)[0]


def cmd_harmonize(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix.lower() not in HARMONIZE_OUTPUTS:
        raise NeuroTunesError(f"cannot write {_shown(out.name)}: use one of {', '.join(HARMONIZE_OUTPUTS)}")
    _check_output_folder(out)
    bundle = load_bundle(args.model)
    melody = read_melody(Path(args.melody), verbose=args.verbose)
    chorale = harmonize(bundle, melody, seed=args.seed, temperature=args.temperature)
    for message in chorale.messages:
        print(f"neurotunes: note: {message}", file=sys.stderr)
    suffix = out.suffix.lower()
    if suffix in (".mid", ".midi"):
        out.write_bytes(chorale.to_midi())
    elif suffix in (".musicxml", ".xml"):
        out.write_bytes(chorale.to_musicxml(title=Path(args.melody).stem))
    else:
        render_file(chorale.score, out)
    score = chorale.score
    print(f"wrote {_shown(out)}: soprano, alto, tenor and bass, {len(score)} notes, {score.duration:.1f} s "
          f"(model {bundle.name}, seed {args.seed})")
    return 0


# --- render -------------------------------------------------------------
def cmd_render(args: argparse.Namespace) -> int:
    score = read_midi(args.midi)
    if args.bpm:
        score = score.with_tempo(args.bpm)
    soundfont = Path(args.soundfont) if args.soundfont else None
    if soundfont is not None and not soundfont.exists():
        raise NeuroTunesError(f"soundfont {_shown(soundfont)} does not exist")
    _check_output_folder(Path(args.output))
    # FluidSynth logs each step of a failed load at ERROR; the RenderError says it in one line (-v shows the log).
    logging.getLogger("neurotunes.render.fluidsynth").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    instruments = {}
    for item in args.instrument:
        track, sep, name = item.partition("=")
        if not sep or not track.strip().isdigit():
            raise NeuroTunesError(f"--instrument takes TRACK_PROGRAM=INSTRUMENT (e.g. 0=Violin), got {item!r}")
        instruments[int(track)] = name
    with _native_stderr_to_log(args.verbose):  # libinstpatch (inside FluidSynth) asserts on broken soundfonts
        out = render_file(score, args.output, soundfont=soundfont, program=args.program, instruments=instruments,
                          reverb=not args.no_reverb, chorus=args.chorus)
    print(f"wrote {_shown(out)} ({score.duration:.1f} s of music)")
    return 0


# --- evaluate -----------------------------------------------------------
def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    check_sample_count(args.samples)
    if args.reference in REFERENCE_SETS:
        reference = reference_set(args.reference)
        reference_name = REFERENCE_SETS[args.reference][0]
    else:
        reference, reference_name = _reference_files(args.reference), args.reference
    models = {}
    for spec in args.model or ["default"]:
        bundle = load_bundle(spec)
        models[spec if spec not in models else f"{spec} ({len(models) + 1})"] = bundle
    # Each model completes the settings given with its own suggestions (neurotunes.bundle.ModelBundle.generate_config).
    config = {**given_settings(GenerateConfig, args), "length": args.notes, "seed": args.seed}
    total = args.samples * len(models)
    bar = _progress_bar("evaluate")
    finished: dict[str, int] = {}

    def progress(name: str, done: int, _: int) -> None:
        finished[name] = done
        bar(sum(finished.values()) / total)

    result = evaluate_models(models, reference, reference_name=reference_name, samples=args.samples, config=config,
                             on_progress=progress)
    report = result.to_dict()
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"reference: {reference_name} ({len(result.reference_features)} pieces); "
              f"{args.samples} samples of {args.notes} notes per model")
        for model in result.models:
            print(f"\n{model.name}" + (f": {model.error}" if model.error else ""))
            if model.error:
                continue
            m = model.model
            print(f"  NLL {m['nll_per_note']:.3f} nats/note, perplexity {m['perplexity_per_token']:.2f} per token, "
                  f"next-note pitch accuracy {m['pitch_accuracy']:.3f}")
            print(f"  {'metric':42s} {'overlap':>8s} {'KL':>8s} {'mean':>8s} {'real':>8s}")
            for row in model.comparisons:
                means = "" if row.mean is None else f" {row.mean:8.3f} {row.reference_mean:8.3f}"
                print(f"  {FEATURE_LABELS[row.feature]:42s} {row.overlap:8.3f} {row.kl_divergence:8.3f}{means}")
            ours, real = report["models"][result.models.index(model)]["means"], report["reference"]["means"]
            for key in ("harmonic_progression", "longest_run", "top_pitch_share"):
                if key in ours and key in real:
                    print(f"  {FEATURE_LABELS[key]:42s} {'':8s} {'':8s} {ours[key]:8.3f} {real[key]:8.3f}")
        print(f"\noverlap: 1 = as close to the reference as its own pieces are to each other; "
              f"{len(DISTRIBUTION_FEATURES)} metrics after Yang & Lerch (2018)")
    return EXIT_PARTIAL if any(m.error for m in result.models) else 0


def _reference_files(spec: str):
    path = Path(spec)
    if not path.exists():
        raise NeuroTunesError(f"{_shown(spec)} is neither a reference set (bach, fiddle) nor a file or folder")
    return _read_scores(_music_files_in(path) if path.is_dir() else [path])


def _music_files_in(folder: Path) -> list[Path]:
    """Every MIDI, MusicXML, ABC and .zip file under ``folder``, in a stable order."""
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in supported_suffixes())
    if not found:
        raise NeuroTunesError(f"no MIDI, MusicXML, ABC or .zip files in {folder}")
    return found


#: Reasons quoted in the one-line error when no file gave a usable piece.
MAX_REASONS_SHOWN = 3


def _read_scores(paths: Sequence[Path]):
    """The pieces in ``paths``; a file that cannot be read or parsed is named on stderr and skipped.

    Raises
    ------
    NeuroTunesError
        No file gave a usable piece: one line with the reasons (the first few), instead of a
        "skipping" line per file followed by an error that does not say why.
    """
    files, errors = [], []
    for p in paths:
        try:
            # an archive may be as large as it may unpack to; everything else, as large as an upload
            cap = MAX_ZIP_TOTAL_MB if p.suffix.lower() == ".zip" else C.MAX_UPLOAD_MB
            files.append((p.name, _read_input(p, "a music", cap)))
        except NeuroTunesError as exc:
            errors.append(str(exc))
    scores = scores_from_files(files, errors)
    errors = [_one_line(message) for message in errors]
    if not scores:
        more = len(errors) - MAX_REASONS_SHOWN
        reasons = "; ".join(errors[:MAX_REASONS_SHOWN]) + (f"; and {more} more" if more > 0 else "")
        raise NeuroTunesError(f"no usable pieces: {reasons or 'the files hold no notes'}")
    for message in errors:
        print(f"neurotunes: skipping {message}", file=sys.stderr)
    return scores


# --- parser -------------------------------------------------------------
def add_setting_options(parser: Any, config_type: type, *, only: Sequence[str] | None = None,
                        suggested: bool = False) -> None:
    """One option per declared setting of ``config_type`` (or those in ``only``) on ``parser`` (or an argument group).

    Flag, type, choices, default and help all come from the setting's declaration, and ``dest`` is
    the field's name, so :func:`settings_from_args` maps them back without a list of its own.
    ``suggested``: the model in use may suggest these settings (a :class:`GenerateConfig`'s), so an option
    left out is absent from the arguments (:func:`given_settings`) and the model's suggestion applies.
    """
    for name, about, default in settings_of(config_type):
        if about.cli == "" or (only is not None and name not in only):
            continue
        flag = about.cli or "--" + name.replace("_", "-")
        accepts = ""
        if about.low is not None and not about.choices:
            low, high = (f"{about.low:.0f}", f"{about.high:.0f}") if about.kind is int else \
                (f"{about.low:g}", f"{about.high:g}")
            accepts = f"{'above ' if about.low_open else ''}{low} to {high}; "
        help_text = about.help.replace("%", "%%") + f" ({accepts}default %(default)s)"
        options = {"dest": name, "default": default, "help": help_text}
        if suggested and name not in UNSUGGESTED:
            options["default"] = argparse.SUPPRESS
            help_text = help_text.replace("default %(default)s", f"default: the model's suggestion, else {default}")
            options["help"] = help_text
        if about.kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **options)
        else:
            parser.add_argument(flag, type=about.kind, choices=list(about.choices) or None, **options)


def given_settings(config_type: type, args: argparse.Namespace) -> dict[str, Any]:
    """The settings of ``config_type`` the arguments hold (with ``suggested`` options: only those given)."""
    return {name: getattr(args, name) for name, _, _ in settings_of(config_type) if hasattr(args, name)}


def settings_from_args(config_type: type, args: argparse.Namespace):
    """The ``config_type`` the options of :func:`add_setting_options` describe (validated by the config)."""
    return config_type(**given_settings(config_type, args))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _transcribe_presets():
    return PRESET_ALIASES


def build_parser() -> argparse.ArgumentParser:
    model_defaults, train_defaults = ModelConfig(), TrainConfig()
    # `neurotunes` (the console script) or `python -m neurotunes`: the usage line names what the user typed.
    prog = "neurotunes" if Path(sys.argv[0]).name == "neurotunes" else "python -m neurotunes"
    p = argparse.ArgumentParser(prog=prog, description="Turn music you have into new music.")
    p.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks) to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("transcribe", help="audio (mp3/wav/ogg/flac; more with ffmpeg) -> MIDI with Basic Pitch")
    t.add_argument("audio", nargs="+", help="audio files, or folders (searched recursively for audio files)")
    t.add_argument("-o", "--output", required=True,
                   help="MIDI file (one input) or folder (a folder or several inputs: the MIDI files mirror the "
                        "inputs' paths, next to a manifest.json that lets a rerun skip what is done)")
    t.add_argument("--preset", default="default", choices=list(_transcribe_presets()),
                   help="starting settings for the material; the flags below override them")
    bp = t.add_argument_group("Basic Pitch (defaults: Basic Pitch's own)")
    bp.add_argument("--onset-threshold", type=float, default=None, help=f"default {C.BP_ONSET_THRESHOLD}")
    bp.add_argument("--frame-threshold", type=float, default=None, help=f"default {C.BP_FRAME_THRESHOLD}")
    bp.add_argument("--min-note-ms", type=float, default=None, help=f"minimum note length, default {C.BP_MIN_NOTE_MS}")
    bp.add_argument("--min-freq", type=float, default=None, help="lowest frequency to keep (Hz)")
    bp.add_argument("--max-freq", type=float, default=None, help="highest frequency to keep (Hz)")
    bp.add_argument("--midi-tempo", type=float, default=None, help=f"tempo written to the MIDI, default {C.BP_MIDI_TEMPO:g}")
    bp.add_argument("--melodia", action=argparse.BooleanOptionalAction, default=None, help="melodia trick (default on)")
    bp.add_argument("--multiple-pitch-bends", action=argparse.BooleanOptionalAction, default=None)
    cl = t.add_argument_group("clean-up for datasets")
    cl.add_argument("--quantize", choices=("off", "1/8", "1/16"), default=None, help="snap to a grid")
    cl.add_argument("--grid-tempo", type=float, default=None, help="grid tempo (default: estimated from the audio)")
    cl.add_argument("--monophonic", action=argparse.BooleanOptionalAction, default=None, help="top melody line only")
    cl.add_argument("--drop-shorter-ms", type=float, default=None, help="drop notes shorter than this")
    cl.add_argument("--normalize-velocity", action=argparse.BooleanOptionalAction, default=None)
    t.add_argument("--max-seconds", type=float, default=C.MAX_AUDIO_SECONDS, help="refuse longer audio")
    t.add_argument("--backend", choices=("onnx", "tflite", "tf"), default=None,
                   help="Basic Pitch runtime (default: onnx when onnxruntime is installed, the fastest here)")
    t.add_argument("--workers", type=_positive_int, default=1,
                   help="processes transcribing a folder or several files at once, each loading Basic Pitch "
                        "once (default 1: in this process)")
    t.set_defaults(func=cmd_transcribe)

    tr = sub.add_parser("train", help="train a model on music21 corpora and/or your MIDI, MusicXML or ABC files")
    src = tr.add_argument_group("data (combine any)")
    src.add_argument("--corpus", action="append", help="music21 corpus: bach, essen, ryansMammoth, ... (repeatable)")
    src.add_argument("--midi", help="folder of .mid/.xml/.mxl/.abc/.zip files")
    src.add_argument("--files", nargs="+", help="MIDI, MusicXML, ABC or .zip files")
    src.add_argument("--shards", metavar="DIR",
                     help="a folder made by `prepare`: streamed from disk, never held in memory (the shards carry "
                          "their encoding, key normalization and validation split)")
    tr.add_argument("--limit", type=int, default=0, help="use only the first N pieces of each corpus (0 = all)")
    tr.add_argument("--key-normalize", action="store_true", help="transpose every piece to C major / A minor")
    tr.add_argument("--encoding", choices=encodings.names(), default=EncodingConfig().name,
                    help="; ".join(encodings.descriptions().values()))
    tr.add_argument("--grid", type=int, default=EncodingConfig().steps_per_quarter, metavar="STEPS",
                    help="grid steps per quarter note (4: sixteenths; 2: eighths, the frame encoding's chorale "
                         "setting)")
    tr.add_argument("--arch", default=model_defaults.arch, choices=models.names(),
                    help="; ".join(f"{name}: {line}" for name, line in models.descriptions().items()))
    tr.add_argument("--units", type=int, default=model_defaults.units)
    tr.add_argument("--layers", type=int, default=model_defaults.layers)
    tr.add_argument("--embedding", type=int, default=model_defaults.embedding_dim)
    tr.add_argument("--dropout", type=float, default=model_defaults.dropout)
    tr.add_argument("--epochs", type=_positive_int, default=train_defaults.epochs,
                    help="epochs to train; with --resume, epochs to add (numbering goes on from the model's)")
    tr.add_argument("--batch-size", type=int, default=train_defaults.batch_size)
    tr.add_argument("--sequence-length", type=int, default=train_defaults.sequence_length)
    tr.add_argument("--learning-rate", type=float, default=train_defaults.learning_rate)
    tr.add_argument("--lr-schedule", choices=("constant", "plateau", "cosine"), default=train_defaults.lr_schedule)
    tr.add_argument("--patience", type=int, default=train_defaults.patience,
                    help="early stop after N epochs without improvement (0 = off)")
    tr.add_argument("--resume", default=None,
                    help="continue from this model bundle (a folder written by train also restores Adam's state)")
    tr.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                    help="mirrored: tf.distribute data parallelism over every GPU of this machine; multiworker: "
                         "over several machines, each running this same command with its own TF_CONFIG (worker "
                         "0 writes the model)")
    tr.add_argument("--checkpoint-dir", default=None,
                    help="save a bundle here after every epoch (epoch-NNN folders, each resumable with --resume)")
    tr.add_argument("--transpose", type=int, default=train_defaults.transpose_semitones,
                    help="augment with transpositions of -N..+N semitones")
    tr.add_argument("--validation", type=float, default=train_defaults.validation_fraction)
    tr.add_argument("--max-steps", type=int, default=0,
                    help="batches per epoch, cycling through the data (0 = one pass)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--name", default=None, help="model name shown in the app")
    tr.add_argument("-o", "--output", required=True, help="model bundle folder (or .zip) to write")
    tr.set_defaults(func=cmd_train)

    pr = sub.add_parser("prepare", help="corpora -> sharded TFRecord files and a manifest, in parallel (Apache Beam)")
    pr.add_argument("sources", nargs="+", metavar="SRC",
                    help="folders (searched recursively) and files of MIDI, MusicXML, ABC or .zip; corpus:NAME for "
                         "a music21 corpus (bach, essen, ryansMammoth, ...)")
    pr.add_argument("-o", "--output", required=True, help="folder for the shards and manifest.json (rerun to resume)")
    pr.add_argument("--workers", type=_positive_int, default=1, help="processes of Beam's local runner")
    pr.add_argument("--encoding", choices=encodings.names(), default=EncodingConfig().name)
    pr.add_argument("--grid", type=int, default=EncodingConfig().steps_per_quarter, metavar="STEPS",
                    help="grid steps per quarter note")
    pr.add_argument("--key-normalize", action="store_true", help="transpose every piece to C major / A minor")
    pr.add_argument("--validation", type=float, default=0.1, help="share of pieces held out (chosen by piece id)")
    pr.add_argument("--per-shard", type=_positive_int, default=DEFAULT_ITEMS_PER_SHARD,
                    help="input files (or tunes of a collection) per shard")
    pr.add_argument("--limit", type=int, default=0, help="only the first N inputs (0 = all)")
    pr.add_argument("--runner", default="DirectRunner",
                    help="Beam runner: DirectRunner (local processes), DataflowRunner, FlinkRunner, SparkRunner")
    pr.add_argument("--runner-option", action="append", metavar="NAME=VALUE", dest="pipeline_args",
                    help="an option for the runner, repeatable (project=P, region=R, temp_location=gs://..., ...)")
    pr.set_defaults(func=cmd_prepare)

    g = sub.add_parser("generate", help="generate a new piece as MIDI")
    g.add_argument("--model", default="default", help="bundle folder, .zip, or a shipped model: default (four-voice Bach), fiddle, "
                                                        "lstm (the Bach LSTM)")
    g.add_argument("--recipe", default=None, help="regenerate the notes of a MIDI file NeuroTunes made")
    g.add_argument("--variations", type=int, default=1, help="write N takes (seeds S, S+1, ...) as OUT-1.mid ...")
    add_setting_options(g.add_argument_group("settings (ignored with --recipe)"), GenerateConfig, suggested=True)
    g.add_argument("--primer", default=None, help="MIDI file to continue")
    g.add_argument("-o", "--output", required=True, help="MIDI file to write")
    g.set_defaults(func=cmd_generate)

    e = sub.add_parser("evaluate", help="generate samples and compare them with real music (and score the model)")
    e.add_argument("--model", action="append", help="shipped name (default, fiddle, lstm) or bundle folder/.zip; repeatable")
    e.add_argument("--reference", default="bach",
                   help="bach or fiddle (pieces held out from the shipped models' training), or MIDI/MusicXML/ABC "
                        "files: a file, a folder or a .zip")
    e.add_argument("--samples", type=int, default=20, help="pieces generated per model")
    e.add_argument("--notes", type=int, default=200, help="notes per piece")
    add_setting_options(e, GenerateConfig, only=("temperature", "top_p", "pitch_top_p"), suggested=True)
    e.add_argument("--seed", type=int, default=0, help="first seed; sample i uses seed + i")
    e.add_argument("--json", action="store_true", help="print the whole report as JSON")
    e.set_defaults(func=cmd_evaluate)

    h = sub.add_parser("harmonize", help="a melody (MIDI, MusicXML, ABC or a recording) -> a four-part chorale")
    h.add_argument("melody", help="the melody: .mid, .musicxml, .abc, or a recording (.wav, .mp3, .ogg, .flac)")
    h.add_argument("--model", default="default",
                   help="a model on the frame encoding (default: the shipped four-voice Bach model)")
    h.add_argument("--seed", type=int, default=0, help="another seed, another harmonization")
    h.add_argument("--temperature", type=float, default=HARMONIZE_TEMPERATURE,
                   help="lower: the likeliest chords; higher: bolder")
    h.add_argument("-o", "--output", required=True, help="file to write: .mid, .musicxml, .wav or .mp3")
    h.set_defaults(func=cmd_harmonize)

    r = sub.add_parser("render", help="MIDI -> WAV or MP3 with FluidSynth")
    r.add_argument("midi", help="MIDI file")
    r.add_argument("-o", "--output", required=True, help=".wav or .mp3 file to write")
    r.add_argument("--soundfont", default=None, help=".sf2/.sf3 file (default: FluidR3_GM if installed)")
    r.add_argument("--program", default=None,
                   help="play every pitched note with this General MIDI instrument: a number or a name ('Violin')")
    r.add_argument("--instrument", action="append", default=[], metavar="TRACK=INSTRUMENT",
                   help="per track: notes on GM program TRACK play as INSTRUMENT (number or name), e.g. "
                        "'0=Church Organ'; repeatable")
    r.add_argument("--bpm", type=float, default=None, help="change the tempo")
    r.add_argument("--no-reverb", action="store_true", help="dry sound")
    r.add_argument("--chorus", action="store_true", help="FluidSynth's chorus on")
    r.set_defaults(func=cmd_render)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_tensorflow()
    for stream in (sys.stdout, sys.stderr):  # a file name in bytes the terminal cannot show is escaped, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    try:
        code = args.func(args)
    except NeuroTunesError as exc:
        print(f"neurotunes: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say
        return 0
    except OSError as exc:
        print(f"neurotunes: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("neurotunes: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: still one line, the traceback with --verbose
        log.info("unexpected failure", exc_info=True)
        print(f"neurotunes: error: unexpected {type(exc).__name__}: {_one_line(str(exc))} (run with -v for details)",
              file=sys.stderr)
        return 1
    log.info("%s took %.1f s", args.command, time.monotonic() - started)
    return code
