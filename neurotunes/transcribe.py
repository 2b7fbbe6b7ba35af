"""Audio bytes -> Score with Spotify's Basic Pitch (the only importer of basic_pitch).

Audio is decoded in memory with soundfile (mp3, wav, ogg, flac), checked
(empty, too long, silent), resampled to Basic Pitch's 22,050 Hz and run
through the model window by window.  The model loads once per process.
"""

from __future__ import annotations

import functools
import io
import logging
import math
from typing import Callable

import numpy as np

from . import constants as C
from .config import TranscribeConfig
from .errors import BadAudio, TranscriptionError
from .score import Note, Score

log = logging.getLogger(__name__)

#: Peak level below which audio counts as silence (about -60 dBFS).
SILENCE_PEAK = 1e-3
#: Frames of overlap between model windows (Basic Pitch's own value).
N_OVERLAPPING_FRAMES = 30


def decode_audio(data: bytes, *, name: str = "audio file", max_seconds: float = C.MAX_AUDIO_SECONDS) -> tuple[np.ndarray, int]:
    """Decode audio bytes to a mono float32 array and its sample rate.

    Raises
    ------
    BadAudio
        Empty, oversized, undecodable or too long audio.
    """
    import soundfile as sf

    if not data:
        raise BadAudio(f"{name} is empty (0 bytes)")
    if len(data) > C.MAX_UPLOAD_MB * 1024 * 1024:
        raise BadAudio(f"{name} is {len(data) / 1e6:.0f} MB; audio files over {C.MAX_UPLOAD_MB} MB are refused")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            seconds = f.frames / f.samplerate if f.samplerate else 0
            if seconds > max_seconds:
                raise BadAudio(
                    f"{name} is {seconds / 60:.1f} minutes long; the limit is {max_seconds / 60:.0f} minutes"
                )
            audio = f.read(dtype="float32", always_2d=True)
            rate = f.samplerate
    except BadAudio:
        raise
    except Exception as exc:  # libsndfile reports corrupt/unknown data as RuntimeError/LibsndfileError
        reason = str(exc).rsplit(": ", 1)[-1].strip().rstrip(".") or type(exc).__name__
        raise BadAudio(
            f"{name} could not be decoded as audio ({reason}); supported formats: {', '.join(C.AUDIO_EXTENSIONS)}"
        ) from None
    if audio.shape[0] == 0:
        raise BadAudio(f"{name} holds no audio samples")
    mono = audio.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise BadAudio(f"{name} holds invalid (NaN/inf) samples")
    return mono, int(rate)


def _import_basic_pitch():
    """Import basic_pitch without its import-time warnings about optional backends
    (CoreML, tflite-runtime, ONNX) that we do not use."""
    logging.disable(logging.WARNING)
    try:
        import basic_pitch
        import basic_pitch.inference
        import basic_pitch.note_creation  # noqa: F401
    finally:
        logging.disable(logging.NOTSET)
    return basic_pitch


@functools.lru_cache(maxsize=1)
def load_model():
    """The Basic Pitch model, loaded once per process (TFLite: fastest backend here)."""
    basic_pitch = _import_basic_pitch()
    path = basic_pitch.build_icassp_2022_model_path(basic_pitch.FilenameSuffix.tflite)
    return basic_pitch.inference.Model(path)


def _model_output(audio_22k: np.ndarray, on_progress: Callable[[float], None] | None) -> dict[str, np.ndarray]:
    from basic_pitch.constants import AUDIO_N_SAMPLES, FFT_HOP
    from basic_pitch.inference import unwrap_output, window_audio_file

    model = load_model()
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


def transcribe_audio(
    data: bytes,
    config: TranscribeConfig | None = None,
    *,
    name: str = "audio file",
    on_progress: Callable[[float], None] | None = None,
) -> Score:
    """Transcribe audio bytes to a Score with Basic Pitch.

    Parameters
    ----------
    data
        Bytes of an mp3, wav, ogg or flac file.
    config
        Basic Pitch thresholds and limits.
    name
        File name for messages and the Score's provenance.
    on_progress
        Called with the fraction of audio processed (0-1).

    Raises
    ------
    BadAudio
        Undecodable, too long or silent audio.
    TranscriptionError
        The model found no notes.
    """
    config = config or TranscribeConfig()
    # Check the audio before loading anything heavy: a bad file fails at once.
    audio, rate = decode_audio(data, name=name, max_seconds=config.max_seconds)
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        raise BadAudio(f"{name} is silent (peak below -60 dBFS): there is nothing to transcribe")

    import librosa

    _import_basic_pitch()
    from basic_pitch.constants import AUDIO_SAMPLE_RATE, FFT_HOP
    from basic_pitch.note_creation import model_output_to_notes

    if rate != AUDIO_SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=rate, target_sr=AUDIO_SAMPLE_RATE, res_type="soxr_hq")
    try:
        output = _model_output(audio, on_progress)
        min_frames = int(np.round(config.minimum_note_length_ms / 1000 * (AUDIO_SAMPLE_RATE / FFT_HOP)))
        _, events = model_output_to_notes(
            output,
            onset_thresh=config.onset_threshold,
            frame_thresh=config.frame_threshold,
            min_note_len=min_frames,
            min_freq=config.minimum_frequency,
            max_freq=config.maximum_frequency,
            multiple_pitch_bends=config.multiple_pitch_bends,
            melodia_trick=config.melodia_trick,
            midi_tempo=config.midi_tempo,
        )
    except Exception as exc:  # the model or its post-processing failing is not the user's fault
        log.exception("Basic Pitch failed on %s", name)
        raise TranscriptionError(f"Basic Pitch failed on {name}: {exc}") from None
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
    if not notes:
        raise TranscriptionError(
            f"no notes found in {name}; try lowering the onset and frame thresholds or the minimum note length"
        )
    return Score(
        notes=tuple(notes),
        tempo_bpm=config.midi_tempo,
        metadata={"source": name, "transcription": config.to_dict(), "audio_seconds": round(len(audio) / AUDIO_SAMPLE_RATE, 3)},
    )
