"""Real Basic Pitch on audio rendered by real FluidSynth from a known MIDI."""

import io

import mir_eval
import numpy as np
import pytest
import soundfile as sf

from neurotunes.config import TranscribeConfig
from neurotunes.errors import BadAudio, BadConfig, TranscriptionError
from neurotunes.render import score_to_wav
from neurotunes.transcribe import decode_audio, transcribe_audio
from tests.conftest import make_score

pytestmark = pytest.mark.slow

#: Measured 1.0 on this melody with FluidR3 and TimGM6mb; 0.8 leaves room for
#: soundfont and resampler differences while still catching a broken pipeline.
MIN_ONSET_F1 = 0.8


@pytest.fixture(scope="module")
def melody():
    return make_score(pitches=(60, 64, 67, 72, 71, 67, 65, 62), step=0.4, dur=0.35)


@pytest.fixture(scope="module")
def melody_wav(melody):
    return score_to_wav(melody)


def _onset_f1(ref, est):
    ref_iv = np.array([[n.start, n.end] for n in ref.notes])
    est_iv = np.array([[n.start, n.end] for n in est.notes])
    ref_hz = np.array([440 * 2 ** ((n.pitch - 69) / 12) for n in ref.notes])
    est_hz = np.array([440 * 2 ** ((n.pitch - 69) / 12) for n in est.notes])
    _, _, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=0.05, offset_ratio=None
    )
    return f1


def test_rendered_melody_comes_back(melody, melody_wav):
    est = transcribe_audio(melody_wav, name="melody.wav")
    assert _onset_f1(melody, est) >= MIN_ONSET_F1
    assert est.metadata["source"] == "melody.wav"
    assert est.metadata["transcription"]["onset_threshold"] == 0.5


def test_mp3_and_flac_inputs(melody, melody_wav):
    audio, rate = sf.read(io.BytesIO(melody_wav))
    for fmt in ("MP3", "FLAC", "OGG"):
        buf = io.BytesIO()
        sf.write(buf, audio, rate, format=fmt)
        est = transcribe_audio(buf.getvalue(), name=f"melody.{fmt.lower()}")
        assert _onset_f1(melody, est) >= MIN_ONSET_F1, fmt


def test_thresholds_matter(melody_wav):
    default = transcribe_audio(melody_wav)
    loose = transcribe_audio(melody_wav, TranscribeConfig(onset_threshold=0.1, frame_threshold=0.05, minimum_note_length_ms=20))
    assert len(loose) > len(default)
    with pytest.raises(TranscriptionError, match="lower the onset and frame thresholds"):
        transcribe_audio(melody_wav, TranscribeConfig(onset_threshold=0.99, frame_threshold=0.99), name="m.wav")


def _wav(samples, rate=22050):
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV")
    return buf.getvalue()


def test_silent_audio_says_so():
    with pytest.raises(BadAudio, match="silent"):
        transcribe_audio(_wav(np.zeros(22050, dtype=np.float32)), name="quiet.wav")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"ID3 this is not really an mp3" * 10, "could not be decoded"),
        (b"RIFF\x00\x00\x00\x00WAVE", "could not be decoded"),
    ],
)
def test_bad_files_name_the_file(data, message):
    with pytest.raises(BadAudio, match=message) as err:
        decode_audio(data, name="song.mp3")
    assert "song.mp3" in str(err.value)


def test_too_long_audio_is_refused_before_decoding():
    with pytest.raises(BadAudio, match="limit"):
        decode_audio(_wav(np.zeros(22050 * 3, dtype=np.float32)), name="long.wav", max_seconds=2)
    with pytest.raises(BadConfig):
        TranscribeConfig(max_seconds=0)


#: Measured 0.73-0.83 on the first five chorales (first 20 s) with FluidR3 and TimGM6mb;
#: the issue's reference figure for a Bach chorale with FluidR3 is about 0.75.
MIN_CHORALE_ONSET_F1 = 0.65


def test_bach_chorale_onset_f1():
    from neurotunes.corpus import load_corpus

    chorale = load_corpus("bach", limit=3)[2]
    excerpt = chorale.with_notes(n for n in chorale.notes if n.end <= 15.0)
    est = transcribe_audio(score_to_wav(excerpt), name="chorale.wav")
    assert _onset_f1(excerpt, est) >= MIN_CHORALE_ONSET_F1


def test_changed_settings_rerun_without_the_model(melody_wav):
    from neurotunes.config import PostProcessConfig
    from neurotunes.transcribe import analyze_audio, notes_from_analysis

    analysis = analyze_audio(melody_wav, name="melody.wav")
    assert analysis.seconds == pytest.approx(8 * 0.4 - 0.05 + 1.0, abs=0.1)  # notes + render tail
    default = notes_from_analysis(analysis)
    assert default == transcribe_audio(melody_wav, name="melody.wav")
    mono = notes_from_analysis(analysis, TranscribeConfig(), PostProcessConfig(monophonic=True, quantize="1/16"))
    assert len(mono) <= len(default)
    starts = [n.start for n in mono.notes]
    assert starts == sorted(set(starts))  # one note at a time
    assert mono.metadata["postprocess"]["quantize"] == "1/16"


@pytest.fixture
def no_ffmpeg(monkeypatch):
    import neurotunes.transcribe as t

    monkeypatch.setattr(t.shutil, "which", lambda name: None)


def test_unknown_format_without_ffmpeg_names_supported_formats(no_ffmpeg):
    with pytest.raises(BadAudio, match="supported formats: mp3, wav, ogg, flac .install ffmpeg"):
        decode_audio(b"\x00\x00\x00\x20ftypM4A junk" * 20, name="voice.m4a")


def test_other_formats_through_ffmpeg(melody, melody_wav, tmp_path):
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is installed by `bash run.sh test`"
    (tmp_path / "m.wav").write_bytes(melody_wav)
    subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(tmp_path / "m.wav"), "-c:a", "aac", str(tmp_path / "m.m4a")],
                   check=True)
    est = transcribe_audio((tmp_path / "m.m4a").read_bytes(), name="m.m4a")
    assert _onset_f1(melody, est) >= MIN_ONSET_F1
    with pytest.raises(BadAudio, match="ffmpeg"):
        decode_audio(b"\x00\x00\x00\x20ftypM4A junk" * 20, name="bad.m4a")
