"""Real FluidSynth renders of tiny scores (a few seconds of audio each)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from neurotunes import constants as C
from neurotunes import render
from neurotunes.errors import RenderError
from neurotunes.score import Note, Score

SR = C.RENDER_SAMPLE_RATE
STEP = 0.25
SCALE_PITCHES = (60, 62, 64, 65, 67, 69, 71, 72)
EMBEDDED = render._embedded_soundfont()
SOUNDFONTS = {"default": None, "embedded": EMBEDDED}


def c_major_scale(program: int = 0) -> Score:
    notes = tuple(
        Note(start=i * STEP, end=(i + 1) * STEP, pitch=p, velocity=90, program=program)
        for i, p in enumerate(SCALE_PITCHES)
    )
    return Score(notes=notes)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.fixture(scope="module", params=sorted(SOUNDFONTS))
def scale_audio(request):
    return request.param, render.render_audio(c_major_scale(), soundfont=SOUNDFONTS[request.param])


def test_soundfonts_are_found():
    fonts = render.find_soundfonts()
    assert EMBEDDED is not None and EMBEDDED.name == "TimGM6mb.sf2"
    assert EMBEDDED in fonts
    assert len(fonts) == len({f.resolve() for f in fonts})  # no duplicates via symlinks
    system = [p for p in C.SYSTEM_SOUNDFONTS if p.is_file()]
    assert render.default_soundfont() == (system[0] if system else EMBEDDED)
    if system:
        assert fonts[0] == system[0]


def test_scale_shape_duration_and_level(scale_audio):
    _, audio = scale_audio
    assert audio.dtype == np.float32
    assert audio.ndim == 2 and audio.shape[1] == 2
    expected = len(SCALE_PITCHES) * STEP + C.RENDER_TAIL_SECONDS
    assert abs(audio.shape[0] / SR - expected) <= 0.1
    peak = float(np.max(np.abs(audio)))
    assert 0.1 < peak <= C.RENDER_PEAK + 1e-6
    assert rms(audio[:, 0]) > 0.01 and rms(audio[:, 1]) > 0.01  # both channels carry sound


def test_every_note_sounds(scale_audio):
    _, audio = scale_audio
    for i in range(len(SCALE_PITCHES)):
        region = audio[int((i * STEP + 0.02) * SR) : int(((i + 1) * STEP) * SR)]
        assert rms(region) > 0.02, f"note {i} is silent"


def test_note_starts_on_time_and_silence_is_exact_zero():
    onset = 0.5
    score = Score(notes=(Note(start=onset, end=1.0, pitch=60),))
    audio = render.render_audio(score, soundfont=EMBEDDED, reverb=False)
    first = int(np.flatnonzero(np.abs(audio).max(axis=1) > 0)[0])
    # FluidSynth applies events at its 64-sample block boundaries
    assert round(onset * SR) <= first <= round(onset * SR) + 2 * 64
    assert rms(audio[first : first + SR // 4]) > 0.05


def test_wav_bytes_read_back():
    audio = render.render_audio(c_major_scale(), soundfont=EMBEDDED)
    data = render.audio_to_wav(audio, SR)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    back, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == SR
    assert back.shape == audio.shape
    assert np.max(np.abs(back - audio)) < 1e-3  # 16-bit quantisation only


def test_mp3_bytes_read_back():
    data = render.score_to_mp3(c_major_scale(), soundfont=EMBEDDED)
    back, rate = sf.read(io.BytesIO(data))
    assert rate == SR and back.ndim == 2 and back.shape[1] == 2
    expected = len(SCALE_PITCHES) * STEP + C.RENDER_TAIL_SECONDS
    assert abs(len(back) / rate - expected) < 0.15
    assert rms(back) > 0.02


def test_render_file_by_suffix(tmp_path):
    out = render.render_file(c_major_scale(), tmp_path / "scale.WAV", soundfont=EMBEDDED)
    assert out.read_bytes()[:4] == b"RIFF"
    with pytest.raises(RenderError, match=r"\.wav, \.mp3"):
        render.render_file(c_major_scale(), tmp_path / "scale.ogg", soundfont=EMBEDDED)
    assert not (tmp_path / "scale.ogg").exists()


def test_program_override_changes_the_sound():
    piano = render.render_audio(c_major_scale(), soundfont=EMBEDDED)
    violin = render.render_audio(c_major_scale(), soundfont=EMBEDDED, program=40)
    same = render.render_audio(c_major_scale(program=40), soundfont=EMBEDDED)
    assert piano.shape == violin.shape
    assert np.mean(np.abs(piano - violin)) > 0.01
    np.testing.assert_allclose(violin, same, atol=1e-6)  # override == score already on program 40


def test_drums_render():
    snare = Score(notes=(Note(start=0.0, end=0.3, pitch=38, is_drum=True),))
    audio = render.render_audio(snare, soundfont=EMBEDDED)
    assert rms(audio[: SR // 4]) > 0.01
    pitched = render.render_audio(Score(notes=(Note(start=0.0, end=0.3, pitch=38),)), soundfont=EMBEDDED)
    assert np.mean(np.abs(audio - pitched)) > 0.01  # a drum kit, not a low piano D


@pytest.mark.parametrize("font", sorted(SOUNDFONTS))
def test_a4_sounds_at_440_hz(font):
    score = Score(notes=(Note(start=0.0, end=2.0, pitch=69, velocity=100),))
    audio = render.render_audio(score, soundfont=SOUNDFONTS[font], program=0, reverb=False)
    mono = audio[int(0.2 * SR) : int(1.5 * SR)].mean(axis=1)
    n_fft = 1 << 18
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono)), n=n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    band = (freqs > 50) & (freqs < 5000)
    peak = float(freqs[band][np.argmax(spectrum[band])])
    harmonic = round(peak / 440.0)
    assert harmonic >= 1 and abs(peak / harmonic - 440.0) < 440.0 * 0.01, f"peak at {peak:.1f} Hz"

    def energy(f: float) -> float:
        return float(spectrum[(freqs > f * 0.99) & (freqs < f * 1.01)].max())

    # 440 Hz is a strong partial, far above the neighbouring semitones ...
    assert energy(440.0) > 0.1 * float(spectrum[band].max())
    assert energy(440.0) > 10 * max(energy(415.3), energy(466.16))
    # ... and it is the fundamental: nothing an octave below (an A3 would fail here)
    assert energy(220.0) < 0.05 * energy(440.0)


def test_junk_soundfont_is_refused_and_rendering_still_works(tmp_path):
    junk = tmp_path / "bad.sf2"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 1024, dtype=np.uint8).tobytes())
    with pytest.raises(RenderError, match="bad.sf2"):
        render.render_audio(c_major_scale(), soundfont=junk)
    # a RIFF/sfbk header over junk passes the cheap check and reaches FluidSynth's sfload
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF" + (1016).to_bytes(4, "little") + b"sfbk" + b"\x00" * 1012)
    with pytest.raises(RenderError, match="could not load the SoundFont .*fake.sf2"):
        render.render_audio(c_major_scale(), soundfont=fake)
    with pytest.raises(RenderError, match="not found"):
        render.render_audio(c_major_scale(), soundfont=tmp_path / "missing.sf2")
    audio = render.render_audio(c_major_scale(), soundfont=EMBEDDED)
    assert float(np.max(np.abs(audio))) > 0.1


def test_empty_score_is_refused():
    with pytest.raises(RenderError, match="nothing to render: the piece has no notes"):
        render.render_audio(Score())
    with pytest.raises(RenderError, match="no notes"):
        render.score_to_wav(Score())


def test_encoders_refuse_empty_audio():
    with pytest.raises(RenderError):
        render.audio_to_wav(np.zeros((0, 2), dtype=np.float32), SR)


def test_concurrent_renders_match_serial():
    from concurrent.futures import ThreadPoolExecutor

    serial = render.render_audio(c_major_scale(), soundfont=EMBEDDED)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: render.render_audio(c_major_scale(), soundfont=EMBEDDED), range(3)))
    for audio in results:
        np.testing.assert_array_equal(audio, serial)


def test_notes_stop_and_overlapping_repeats_keep_sounding():
    violin = 40  # sustains while held, so a missing or early note-off shows
    long_note = Note(start=0.0, end=1.0, pitch=67, program=violin)
    repeat = Note(start=0.5, end=0.7, pitch=67, program=violin)  # same key, inside the long note
    audio = render.render_audio(Score(notes=(long_note, repeat)), soundfont=EMBEDDED, reverb=False)
    body = rms(audio[int(0.1 * SR) : int(0.5 * SR)])
    assert rms(audio[int(0.8 * SR) : int(1.0 * SR)]) > 0.2 * body  # the 0.7 s note-off did not cut it
    assert rms(audio[-int(0.3 * SR) :]) < 0.01 * body  # released after 1.0 s: the tail dies away


def test_install_soundfont_accepts_real_and_refuses_broken(tmp_path):
    from neurotunes.render import _embedded_soundfont, install_soundfont, render_audio

    good = _embedded_soundfont().read_bytes()
    path = install_soundfont(good, "mine.sf2", tmp_path)
    assert path.exists() and path.suffix == ".sf2"
    assert install_soundfont(good, "again.sf2", tmp_path) == path  # stored once, by content
    for data, name, message in ((b"RIFF\x00\x00\x00\x00sfbk" + b"\x00" * 64, "broken.sf2", "cannot be used"),
                                (b"", "empty.sf2", "empty"), (good, "font.txt", ".sf2 or .sf3")):
        with pytest.raises(RenderError, match=message):
            install_soundfont(data, name, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # the broken one was not kept
    score = Score(notes=(Note(start=0.0, end=0.3, pitch=64),))
    assert render_audio(score, soundfont=path).shape[1] == 2  # the process still renders


def test_sidebar_soundfont_choice_changes_the_audio():
    from streamlit.testing.v1 import AppTest

    from neurotunes.ui import state
    from tests.conftest import ROOT, make_score

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.session_state[state.TAKES] = [state.Take(1, make_score(), "test", {"temperature": 1.0, "seed": 0,
                                                                          "length": 8, "beam_width": 1,
                                                                          "scale": "chromatic", "key": 0})]
    at.run()
    first = at.get("audio")[0].proto.url
    fonts = at.sidebar.selectbox[0].options
    assert any("TimGM6mb" in f for f in fonts)
    at.sidebar.selectbox[0].set_value(next(f for f in at.sidebar.selectbox[0].options if "TimGM6mb" in f)).run()
    at.sidebar.toggle[0].set_value(False).run()
    assert not at.exception
    assert at.session_state[state.SOUND].reverb is False
    assert at.get("audio")[0].proto.url != first
