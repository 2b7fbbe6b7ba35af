"""Audio bytes -> Score with Spotify's Basic Pitch (the only importer of basic_pitch).

Transcription runs in two stages so settings can change without re-running
the network:

1. :func:`analyze_audio` decodes the audio in memory (soundfile: mp3, wav,
   ogg, flac; other formats through ffmpeg when it is installed), checks it
   (empty, too long, silent), resamples it to 22,050 Hz, runs the Basic Pitch
   model window by window and estimates the tempo.  This is the slow part.
2. :func:`notes_from_analysis` turns the model's activations into notes with
   Basic Pitch's own note creation (thresholds, minimum length, frequency
   range, melodia trick) and applies dataset clean-up (quantize, top line,
   short-note removal, velocity normalization).  This takes milliseconds.

The model loads once per process, with ONNX Runtime when it is installed
(fastest to load and to run here, and TensorFlow is never imported for
transcription), else TFLite; see ``benchmarks/transcribe.py``.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import constants as C
from ._quiet import HEAVY_IMPORT_LOCK, prints_to_log, silence_logs_from
from .config import QUANTIZE_GRIDS, PostProcessConfig, TranscribeConfig
from .errors import BadAudio, TranscriptionError
from .score import Note, Score

log = logging.getLogger(__name__)

#: Peak level below which audio counts as silence (about -60 dBFS).
SILENCE_PEAK = 1e-3
#: Frames of overlap between model windows (Basic Pitch's own value).
N_OVERLAPPING_FRAMES = 30
#: Basic Pitch's input sample rate and hop (basic_pitch.constants; repeated so decoding needs no TF import).
MODEL_SAMPLE_RATE = 22_050
#: Formats ffmpeg can add when it is installed.
FFMPEG_EXTENSIONS = ("m4a", "aac", "opus", "webm", "wma", "aiff", "aif", "mp4")
FFMPEG_TIMEOUT_S = 120
#: Shortest audio worth transcribing.
MIN_AUDIO_SECONDS = 0.1
#: Frames decoded per read: a damaged stream loses at most this much before the damage (0.37 s at 44.1 kHz).
DECODE_BLOCK_FRAMES = 16_384
#: Audio shorter than its header promises by more than this is reported as truncated.  MP3 encoder
#: padding (about 26 ms) and rounding in a header's frame count stay below it.
TRUNCATION_TOLERANCE_S = 0.1
TRUNCATION_TOLERANCE_SHARE = 0.01
#: A WAV data-chunk size that means "unknown" (written by recorders that stream to a pipe), not a promise.
WAV_STREAMING_SIZES = (0, 0xFFFFFFFF)

#: Noise detection: spectral flatness (0 = a pure tone, 1 = white noise) over the band where pitched
#: instruments have their partials, per STFT frame; the share of frames (within 40 dB of the loudest)
#: above NOISE_FLATNESS.  Measured shares: white noise 1.00 at 8-48 kHz and any level, pink noise 0.86;
#: piano, organ, distorted guitar, violin, flute and pad melodies and three Bach chorales rendered by
#: FluidSynth 0.00, GM "Seashore" (a noise effect) 0.38, a drum-only loop 0.07, drums with a melody 0.01;
#: a melody under white noise at 0 dB SNR 0.59, at 10 dB 0.21.  Ten minutes at 44.1 kHz cost 1.5 s.
NOISE_BAND_HZ = (100.0, 8000.0)
NOISE_FLATNESS = 0.3
NOISE_FRAME_SHARE = 0.75
NOISE_LOUD_FRAME_DB = -40.0
NOISE_FFT = 2048
NOISE_HOP = 512
NOISE_CHUNK_FRAMES = 1024  # STFT frames per chunk (24 s at 22,050 Hz)
#: The band stops short of the file's Nyquist frequency, where resamplers and encoders leave it empty.
NOISE_NYQUIST_SHARE = 0.9

#: Starting points for common material: Basic Pitch settings plus clean-up.
PRESETS: dict[str, tuple[TranscribeConfig, PostProcessConfig]] = {
    "Basic Pitch defaults": (TranscribeConfig(), PostProcessConfig()),
    "Solo piano": (
        TranscribeConfig(onset_threshold=0.5, frame_threshold=0.3, minimum_note_length_ms=58.0,
                         minimum_frequency=27.5, maximum_frequency=4200.0),
        PostProcessConfig(min_note_ms=40.0),
    ),
    "Single-line melody / voice": (
        TranscribeConfig(onset_threshold=0.6, frame_threshold=0.4, minimum_note_length_ms=100.0,
                         minimum_frequency=65.0, maximum_frequency=1400.0),
        PostProcessConfig(monophonic=True, min_note_ms=80.0, normalize_velocity=True),
    ),
    "Full band": (
        TranscribeConfig(onset_threshold=0.4, frame_threshold=0.25, minimum_note_length_ms=80.0,
                         minimum_frequency=40.0),
        PostProcessConfig(min_note_ms=60.0, normalize_velocity=True),
    ),
}


#: Short names for the command line.
PRESET_ALIASES = {
    "default": "Basic Pitch defaults",
    "piano": "Solo piano",
    "melody": "Single-line melody / voice",
    "band": "Full band",
}


@dataclass(frozen=True)
class AudioAnalysis:
    """Basic Pitch's activations for one recording, ready for note creation."""

    name: str
    note: np.ndarray  # (frames, 88) note activations
    onset: np.ndarray  # (frames, 88) onset activations
    contour: np.ndarray  # (frames, 264) pitch contour, 3 bins per semitone
    seconds: float
    tempo_bpm: float | None  # estimated from the audio; None when no beat was found
    #: Problems worth telling the user while still transcribing (truncated file, noise), one sentence each.
    warnings: tuple[str, ...] = ()
    #: Share of frames that sound like noise (see :func:`noise_share`); above NOISE_FRAME_SHARE it is noise.
    noise_share: float = 0.0

    def model_output(self) -> dict[str, np.ndarray]:
        return {"note": self.note, "onset": self.onset, "contour": self.contour}


# --- decoding ------------------------------------------------------------
_FOLDERS = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\\/'\"]+[\\/])+")


def _without_folders(text: object) -> str:
    """A library's message with every absolute path cut to its file name: no server path reaches a user."""
    return _FOLDERS.sub("", str(text))


def _ffmpeg_decode(data: bytes, name: str) -> np.ndarray | None:
    """Decode any format ffmpeg knows to mono float32 at the model's rate; None without ffmpeg.

    Raw PCM out, not WAV: ffmpeg cannot fix up a WAV header when writing to a pipe.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    try:
        # A seekable file, not a pipe: MP4/M4A keep their index at the end of the file.
        with tempfile.NamedTemporaryFile(suffix=".audio") as src:
            src.write(data)
            src.flush()
            proc = subprocess.run(
                [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", src.name,
                 "-ac", "1", "-ar", str(MODEL_SAMPLE_RATE), "-f", "f32le", "pipe:1"],
                capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False,
            )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BadAudio(f"{name}: ffmpeg could not decode it ({_without_folders(exc)})") from None
    if proc.returncode != 0 or not proc.stdout:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no audio stream"]
        reason_text = reason[0].split(": ", 1)[-1]  # drop the temp file name
        raise BadAudio(f"{name} could not be decoded as audio (ffmpeg: {reason_text})")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def _wav_shortfall(data: bytes) -> tuple[float, float] | None:
    """``(promised, present)`` seconds of a RIFF WAVE whose data chunk claims more bytes than the file holds.

    libsndfile quietly shortens such a file to what is there, so the header is read here.
    ``None`` for a complete WAV, a streaming size (unknown length) or anything else.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = pos + 8
        if chunk == b"fmt " and size >= 16 and body + 16 <= len(data):
            byte_rate = int.from_bytes(data[body + 8:body + 12], "little")
        elif chunk == b"data":
            present = len(data) - body
            if size in WAV_STREAMING_SIZES or size <= present or not byte_rate:
                return None
            return size / byte_rate, present / byte_rate
        pos = body + size + (size & 1)  # chunks are word-aligned
    return None


def _truncation_warning(name: str, promised_s: float, present_s: float) -> str | None:
    missing = promised_s - present_s
    if missing <= max(TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE_SHARE * promised_s):
        return None
    return (f"{name} is truncated: its header promises {promised_s:.1f} s of audio but the file holds only "
            f"{present_s:.1f} s; the notes cover that part only (re-export or download the file again for the rest)")


def _libsndfile_reason(exc: Exception) -> str:
    return str(exc).rsplit(": ", 1)[-1].strip().rstrip(".") or type(exc).__name__


def decode_audio(
    data: bytes,
    *,
    name: str = "audio file",
    max_seconds: float = C.MAX_AUDIO_SECONDS,
    warnings: list[str] | None = None,
) -> tuple[np.ndarray, int]:
    """Decode audio bytes to a mono float32 array and its sample rate.

    Parameters
    ----------
    warnings
        Receives one sentence per problem that does not stop decoding: a file that
        is shorter than its header promises is decoded as far as it goes.

    Raises
    ------
    BadAudio
        Empty, oversized, undecodable, too short or too long audio.
    """
    import soundfile as sf

    if not data:
        raise BadAudio(f"{name} is empty (0 bytes)")
    if len(data) > C.MAX_UPLOAD_MB * 1024 * 1024:
        raise BadAudio(f"{name} is {len(data) / 1e6:.0f} MB; audio files over {C.MAX_UPLOAD_MB} MB are refused")
    warnings = warnings if warnings is not None else []

    def read(buf: bytes) -> tuple[np.ndarray, int]:
        with sf.SoundFile(io.BytesIO(buf)) as f:
            rate = int(f.samplerate)
            promised = f.frames / rate if rate else 0
            if promised > max_seconds:
                raise BadAudio(
                    f"{name} is {promised / 60:.1f} minutes long; the limit is {max_seconds / 60:.0f} minutes"
                )
            # Block by block, so a stream damaged part way (a cut-off FLAC) still gives what precedes the damage.
            blocks, damage = [], None
            while True:
                try:
                    block = f.read(DECODE_BLOCK_FRAMES, dtype="float32", always_2d=True)
                except Exception as exc:  # libsndfile reports a damaged stream as LibsndfileError/RuntimeError
                    damage = _libsndfile_reason(exc)
                    break
                if not len(block):
                    break
                blocks.append(block)
            audio = np.concatenate(blocks) if blocks else np.zeros((0, max(f.channels, 1)), dtype=np.float32)
        present = len(audio) / rate if rate else 0
        if damage and not len(audio):
            raise BadAudio(f"{name} is damaged: its header promises {promised:.1f} s of audio but none of it "
                           f"could be decoded ({damage}); re-export or download the file again")
        shortfall = _wav_shortfall(buf)
        warning = (_truncation_warning(name, *shortfall) if shortfall
                   else _truncation_warning(name, promised, present) if promised else None)
        if warning is None and damage:
            warning = f"{name} is damaged after {present:.1f} s ({damage}); the notes cover that part only"
        if warning:
            warnings.append(warning)
        return audio, rate

    try:
        audio, rate = read(data)
    except BadAudio:
        raise
    except Exception as exc:  # libsndfile reports corrupt/unknown data as LibsndfileError/RuntimeError
        reason = _libsndfile_reason(exc)
        decoded = _ffmpeg_decode(data, name)
        if decoded is None:
            raise BadAudio(
                f"{name} could not be decoded as audio ({reason}); supported formats: "
                f"{', '.join(C.AUDIO_EXTENSIONS)} (install ffmpeg for {', '.join(FFMPEG_EXTENSIONS)})"
            ) from None
        if len(decoded) / MODEL_SAMPLE_RATE > max_seconds:
            raise BadAudio(
                f"{name} is {len(decoded) / MODEL_SAMPLE_RATE / 60:.1f} minutes long; "
                f"the limit is {max_seconds / 60:.0f} minutes"
            )
        audio, rate = decoded[:, None], MODEL_SAMPLE_RATE
    if audio.shape[0] == 0:
        raise BadAudio(f"{name} holds no audio samples")
    if audio.shape[0] / rate < MIN_AUDIO_SECONDS:
        shortfall = _wav_shortfall(data)
        promise = (f"; its header promises {shortfall[0]:.1f} s, so the file is truncated" if shortfall
                   else " (truncated?)")
        raise BadAudio(f"{name} is only {audio.shape[0] / rate * 1000:.0f} ms long{promise}")
    mono = audio.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise BadAudio(f"{name} holds invalid (NaN/inf) samples")
    return mono, rate


# --- the model -----------------------------------------------------------
def _onnx_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def _import_basic_pitch(backend: str | None = None):
    """Import basic_pitch quietly, and without TensorFlow when the ONNX backend will run the model.

    basic_pitch's ``__init__`` imports TensorFlow whenever it is installed (seconds
    of start-up and hundreds of MB) and warns about optional backends we do not
    use.  With onnxruntime present, TensorFlow is hidden from that one import, so
    transcription never loads it; a later ``import tensorflow`` (training) works
    as usual.
    """
    if "basic_pitch.inference" in sys.modules:
        return sys.modules["basic_pitch"]
    # Hiding TensorFlow changes sys.modules for the whole process: under HEAVY_IMPORT_LOCK, which every
    # import of TensorFlow takes too (``import_tensorflow``), so no other thread imports it meanwhile.
    # basic_pitch's warnings about missing backends go to the root logger; only they are dropped, not
    # what other threads log in the meantime.
    with HEAVY_IMPORT_LOCK:
        if "basic_pitch.inference" in sys.modules:  # another thread finished the import while we waited
            return sys.modules["basic_pitch"]
        hide_tf = (backend or default_backend()) == "onnx" and "tensorflow" not in sys.modules and _onnx_available()
        if hide_tf:
            sys.modules["tensorflow"] = None  # type: ignore[assignment]  # makes `import tensorflow` raise ImportError
        try:
            with prints_to_log(log), silence_logs_from(logging.getLogger(), _basic_pitch_folder()):
                import basic_pitch
                import basic_pitch.inference
                import basic_pitch.note_creation  # noqa: F401
        finally:
            if hide_tf:
                del sys.modules["tensorflow"]
    return basic_pitch


def _basic_pitch_folder() -> str:
    """Where basic_pitch's files are, found without importing it."""
    spec = importlib.util.find_spec("basic_pitch")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return os.path.join(locations[0], "") if locations else os.path.join(os.sep, "nonexistent-basic-pitch", "")


#: Basic Pitch model files, by backend name (``basic_pitch.FilenameSuffix`` members).
BACKENDS = ("onnx", "tflite", "tf")


def default_backend() -> str:
    """ONNX Runtime when installed (fastest to load and to run here), else TFLite."""
    return "onnx" if _onnx_available() else "tflite"


@functools.lru_cache(maxsize=len(BACKENDS))
def load_basic_pitch(backend: str | None = None):
    """The Basic Pitch model, loaded once per process and backend.

    Measured by ``benchmarks/transcribe.py`` on a 2-core CPU: ONNX Runtime loads in
    0.03 s and runs at 0.027 x real time; the TensorFlow SavedModel loads in 1.7 s
    and runs at 0.033; TFLite loads at once and runs at 0.046.
    """
    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise TranscriptionError(f"unknown Basic Pitch backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    basic_pitch = _import_basic_pitch(backend)
    if backend in ("tf", "tflite") and not basic_pitch.TF_PRESENT:
        raise TranscriptionError(
            f"the {backend!r} backend needs TensorFlow, which this process skipped for an earlier ONNX "
            "transcription; restart, or use the 'onnx' backend"
        )
    if backend == "onnx" and not basic_pitch.ONNX_PRESENT:
        raise TranscriptionError("the 'onnx' backend needs onnxruntime (pip install onnxruntime)")
    path = basic_pitch.build_icassp_2022_model_path(basic_pitch.FilenameSuffix[backend])
    return basic_pitch.inference.Model(path)


def _run_model(
    audio_22k: np.ndarray, on_progress: Callable[[float], None] | None, backend: str
) -> dict[str, np.ndarray]:
    from basic_pitch.constants import AUDIO_N_SAMPLES, FFT_HOP
    from basic_pitch.inference import unwrap_output, window_audio_file

    model = load_basic_pitch(backend)
    overlap_len = N_OVERLAPPING_FRAMES * FFT_HOP
    hop = AUDIO_N_SAMPLES - overlap_len
    padded = np.concatenate([np.zeros(overlap_len // 2, dtype=np.float32), audio_22k.astype(np.float32)])
    n_windows = max(1, math.ceil(len(padded) / hop))
    out: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}
    for i, (window, _) in enumerate(window_audio_file(padded, hop)):
        for k, v in model.predict(window[None, ...]).items():
            out[k].append(v)
        if on_progress:
            on_progress(min((i + 1) / n_windows, 1.0))
    return {k: unwrap_output(np.concatenate(v), len(audio_22k), N_OVERLAPPING_FRAMES) for k, v in out.items()}


def estimate_tempo(audio: np.ndarray, rate: int) -> float | None:
    """Tempo in BPM from onset strength (librosa's beat tracker), or None if no beat is found."""
    import librosa

    try:
        tempo = librosa.feature.tempo(y=audio, sr=rate, aggregate=np.median)
    except Exception:  # very short or odd audio: a missing tempo is not an error
        log.debug("tempo estimation failed", exc_info=True)
        return None
    value = float(np.atleast_1d(tempo)[0]) if np.size(tempo) else 0.0
    if not math.isfinite(value) or not C.MIN_TEMPO_BPM <= value <= C.MAX_TEMPO_BPM:
        return None
    return round(value, 1)


def noise_share(audio: np.ndarray, rate: int) -> float:
    """Share (0-1) of the audible frames whose spectrum is flat like noise rather than peaked like notes.

    Spectral flatness is taken over :data:`NOISE_BAND_HZ` (capped below the file's own Nyquist
    frequency): a resampler's empty top band would otherwise pull white noise's flatness down.
    The STFT runs on chunks, so ten minutes of audio never needs more than a few MB.
    """
    import librosa

    freqs = librosa.fft_frequencies(sr=rate, n_fft=NOISE_FFT)
    top = min(NOISE_BAND_HZ[1], NOISE_NYQUIST_SHARE * rate / 2)
    band = (freqs >= NOISE_BAND_HZ[0]) & (freqs <= top)
    if len(audio) < NOISE_FFT:
        audio = np.pad(audio, (0, NOISE_FFT - len(audio)))
    flatness, loudness = [], []
    step = NOISE_CHUNK_FRAMES * NOISE_HOP
    for start in range(0, max(len(audio) - NOISE_FFT, 0) + 1, step):
        chunk = audio[start:start + step + NOISE_FFT - NOISE_HOP]
        power = np.abs(librosa.stft(chunk, n_fft=NOISE_FFT, hop_length=NOISE_HOP, center=False)) ** 2
        inside = power[band] + 1e-12
        flatness.append(np.exp(np.mean(np.log(inside), axis=0)) / np.mean(inside, axis=0))
        loudness.append(power.sum(axis=0))
    flat, loud = np.concatenate(flatness), np.concatenate(loudness)
    audible = loud >= loud.max() * 10 ** (NOISE_LOUD_FRAME_DB / 10)  # power, so 10 log10
    return float(np.mean(flat[audible] > NOISE_FLATNESS)) if loud.max() > 0 else 0.0


def _noise_evidence(share: float) -> str:
    return f"{share:.0%} of it has the flat spectrum of hiss or static"


def _noise_warning(name: str, share: float) -> str:
    return f"{name} sounds like noise, not music ({_noise_evidence(share)}): any notes found in it may be meaningless"


def analyze_audio(
    data: bytes,
    *,
    name: str = "audio file",
    max_seconds: float = C.MAX_AUDIO_SECONDS,
    on_progress: Callable[[float], None] | None = None,
    backend: str | None = None,
) -> AudioAnalysis:
    """Decode, check and run Basic Pitch on audio bytes (the slow stage).

    Raises
    ------
    BadAudio
        Undecodable, too long or silent audio; the message names the file.
    TranscriptionError
        The model itself failed.
    """
    # Check the audio before loading anything heavy: a bad file fails at once.
    warnings: list[str] = []
    audio, rate = decode_audio(data, name=name, max_seconds=max_seconds, warnings=warnings)
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        raise BadAudio(f"{name} is silent (peak below -60 dBFS): there is nothing to transcribe")
    import librosa

    noise = noise_share(audio, rate)  # at the file's own rate: its whole band, before resampling cuts it
    if noise > NOISE_FRAME_SHARE:
        warnings.append(_noise_warning(name, noise))
    _import_basic_pitch(backend)
    if rate != MODEL_SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=rate, target_sr=MODEL_SAMPLE_RATE, res_type="soxr_hq")
    try:
        output = _run_model(audio, on_progress, backend)
    except Exception as exc:  # the model failing is not the user's fault; say so plainly
        log.exception("Basic Pitch failed on %s", name)
        raise TranscriptionError(f"Basic Pitch failed on {name}: {_without_folders(exc)}") from None
    return AudioAnalysis(
        name=name,
        note=output["note"],
        onset=output["onset"],
        contour=output["contour"],
        seconds=round(len(audio) / MODEL_SAMPLE_RATE, 3),
        tempo_bpm=estimate_tempo(audio, MODEL_SAMPLE_RATE),
        warnings=tuple(warnings),
        noise_share=round(noise, 3),
    )


# --- notes ---------------------------------------------------------------
def notes_from_analysis(
    analysis: AudioAnalysis, config: TranscribeConfig | None = None, post: PostProcessConfig | None = None
) -> Score:
    """Basic Pitch note creation with ``config``, then ``post`` clean-up (the fast stage).

    Raises
    ------
    TranscriptionError
        No notes survive, with a hint about which settings to loosen.
    """
    _import_basic_pitch()
    from basic_pitch.constants import AUDIO_SAMPLE_RATE, FFT_HOP
    from basic_pitch.note_creation import model_output_to_notes

    config = config or TranscribeConfig()
    post = post or PostProcessConfig()
    min_frames = int(np.round(config.minimum_note_length_ms / 1000 * (AUDIO_SAMPLE_RATE / FFT_HOP)))
    try:
        _, events = model_output_to_notes(
            analysis.model_output(),
            onset_thresh=config.onset_threshold,
            frame_thresh=config.frame_threshold,
            min_note_len=min_frames,
            min_freq=config.minimum_frequency,
            max_freq=config.maximum_frequency,
            multiple_pitch_bends=config.multiple_pitch_bends,
            melodia_trick=config.melodia_trick,
            midi_tempo=config.midi_tempo,
        )
    except Exception as exc:
        log.exception("note creation failed on %s", analysis.name)
        raise TranscriptionError(
            f"Basic Pitch could not create notes for {analysis.name}: {_without_folders(exc)}"
        ) from None
    notes = [
        Note(
            pitch=int(pitch),
            start=float(start),
            end=float(end),
            velocity=int(min(max(round(127 * float(amplitude)), 1), 127)),
        )
        for start, end, pitch, amplitude, _bends in events
        if end > start and 0 <= pitch <= 127
    ]
    score = Score(
        notes=tuple(notes),
        tempo_bpm=config.midi_tempo,
        metadata={
            "source": analysis.name,
            "transcription": config.to_dict(),
            "postprocess": post.to_dict(),
            "audio_seconds": analysis.seconds,
            "estimated_tempo_bpm": analysis.tempo_bpm,
            # What the app shows next to the transcription and the CLI prints on stderr.
            **({"warnings": list(analysis.warnings)} if analysis.warnings else {}),
        },
    )
    score = postprocess(score, post, estimated_tempo=analysis.tempo_bpm)
    if not len(score):
        if analysis.noise_share > NOISE_FRAME_SHARE:
            raise TranscriptionError(f"no notes found in {analysis.name}, which sounds like noise, not music "
                                     f"({_noise_evidence(analysis.noise_share)})")
        hint = "lower the onset and frame thresholds or the minimum note length"
        if post.min_note_ms or post.monophonic:
            hint += ", or turn off the clean-up options"
        raise TranscriptionError(f"no notes found in {analysis.name}; {hint}")
    return score


def postprocess(score: Score, post: PostProcessConfig, *, estimated_tempo: float | None = None) -> Score:
    """Dataset clean-up: drop short notes, keep the top line, quantize, normalize velocity."""
    if post.min_note_ms:
        score = score.without_short_notes(post.min_note_ms / 1000.0)
    if post.monophonic:
        score = score.top_line()
    steps = QUANTIZE_GRIDS[post.quantize]
    if steps and len(score):
        score = score.quantized(steps, tempo_bpm=post.tempo_bpm or estimated_tempo or score.tempo_bpm)
    if post.normalize_velocity:
        score = score.with_normalized_velocity()
    return score


def transcribe_audio(
    data: bytes,
    config: TranscribeConfig | None = None,
    post: PostProcessConfig | None = None,
    *,
    name: str = "audio file",
    on_progress: Callable[[float], None] | None = None,
    backend: str | None = None,
) -> Score:
    """Transcribe audio bytes to a Score with Basic Pitch.

    Parameters
    ----------
    data
        Bytes of an mp3, wav, ogg or flac file (other formats need ffmpeg).
    config
        Basic Pitch thresholds and limits.
    post
        Clean-up for datasets (off by default).
    name
        File name for messages and the Score's provenance.
    on_progress
        Called with the fraction of audio processed (0-1).
    backend
        ``"onnx"``, ``"tflite"`` or ``"tf"``; ``None`` picks the fastest installed (see :func:`load_basic_pitch`).

    Returns
    -------
    Score
        The notes; ``metadata["warnings"]`` (present only when there are some) lists problems that did not
        stop the transcription, one sentence each: a truncated file, audio that sounds like noise.

    Raises
    ------
    BadAudio
        Undecodable, too long or silent audio.
    TranscriptionError
        The model found no notes.
    """
    config = config or TranscribeConfig()
    analysis = analyze_audio(data, name=name, max_seconds=config.max_seconds, on_progress=on_progress, backend=backend)
    return notes_from_analysis(analysis, config, post)
