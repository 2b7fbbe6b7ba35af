"""Real FluidSynth renders of tiny scores (a few seconds of audio each)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from neurotunes import constants as C
from neurotunes import render
from neurotunes.errors import BadConfig, RenderError
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
    from tests.conftest import ROOT, make_score, play_along_players

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    from neurotunes.config import GenerateConfig

    at.session_state[state.TAKES] = [state.Take(1, make_score(), "test", GenerateConfig(length=8))]
    at.run()
    first = play_along_players(at)[0]
    fonts = at.sidebar.selectbox[0].options
    assert any("TimGM6mb" in f for f in fonts)
    at.sidebar.selectbox[0].set_value(next(f for f in at.sidebar.selectbox[0].options if "TimGM6mb" in f)).run()
    at.sidebar.toggle[0].set_value(False).run()
    assert not at.exception
    assert at.session_state[state.SOUND].reverb is False
    second = play_along_players(at)[0]
    assert second != first
    at.sidebar.toggle[1].set_value(True).run()  # chorus
    assert at.session_state[state.SOUND].chorus is True
    assert play_along_players(at)[0] not in (first, second)


def busy_piece(seconds: float = 20.0, velocity: int = 90, hold: float = 0.45) -> Score:
    """Four-note chords every half second with a moving top line: long and busy enough to render in parts."""
    notes = []
    for i in range(int(seconds * 2)):
        t = i * 0.5
        for pitch in (48, 55, 64, 72 + (i * 5) % 12):
            notes.append(Note(start=t, end=t + hold, pitch=pitch, velocity=velocity))
    return Score(notes=tuple(notes))


def test_parallel_parts_sound_like_one_synth(monkeypatch):
    piece = busy_piece()
    for reverb in (False, True):
        monkeypatch.setattr(render, "_parallel_parts", lambda score: 1)
        whole = render.render_audio(piece, soundfont=EMBEDDED, reverb=reverb)
        for parts in (2, 3):
            monkeypatch.setattr(render, "_parallel_parts", lambda score, n=parts: n)
            split = render.render_audio(piece, soundfont=EMBEDDED, reverb=reverb)
            assert split.shape == whole.shape
            first_cut = round(piece.duration / parts) - 1.0  # seconds, safely before the first cut
            # Up to the first cut it is the same synthesis, to float rounding.
            assert np.max(np.abs(split[: int(first_cut * SR)] - whole[: int(first_cut * SR)])) < 1e-4
            # After it, a new strike of a key still ringing from the previous part does not release the
            # old voice as one synth would (and the reverb's modulation runs on its own clock): small
            # differences, 30 dB below the music.
            assert rms(split - whole) < 0.03 * rms(whole)


def test_split_never_cuts_a_chord():
    spans = [(frame, frame + 10, 0, pitch, 90) for frame in (0, 0, 0, 100, 100, 200) for pitch in (60,)]
    parts = render._split_by_onset(spans, 4)
    assert [len(p) for p in parts] == [3, 2, 1]
    assert sum(parts, []) == spans


def test_loudness_is_normalized_without_clipping():
    quiet = render.render_audio(busy_piece(10, velocity=25), soundfont=EMBEDDED)
    loud = render.render_audio(busy_piece(10, velocity=120), soundfont=EMBEDDED)
    single = render.render_audio(Score(notes=(Note(start=0.0, end=2.0, pitch=72, velocity=30),)), soundfont=EMBEDDED)
    for audio in (quiet, loud, single):
        assert float(np.max(np.abs(audio))) <= C.RENDER_PEAK + 1e-6
    levels = [render.loudness_db(a) for a in (quiet, loud, single)]
    # Each reaches the target unless the ceiling stopped it first, then it sits at the ceiling.
    for audio, level in zip((quiet, loud, single), levels):
        at_ceiling = float(np.max(np.abs(audio))) > C.RENDER_PEAK - 1e-3
        assert abs(level - C.RENDER_LOUDNESS_DB) < 0.5 or (at_ceiling and level < C.RENDER_LOUDNESS_DB)
    assert abs(levels[0] - levels[1]) < 3.0  # velocity 25 and 120 end up about equally loud
    silence = np.zeros((SR, 2), dtype=np.float32)
    assert render.normalize_loudness(silence) == 1.0 and not silence.any()
    with pytest.raises(RenderError, match="invalid samples"):
        render.normalize_loudness(np.full((SR, 2), np.nan, dtype=np.float32))


def test_instruments_by_general_midi_name_per_track():
    assert render.gm_program("Violin") == 40 and render.gm_program("acoustic grand piano") == 0
    assert render.gm_program("41") == 41 and render.gm_program(127) == 127
    for bad in ("Kazoo", 128, -1, True):
        with pytest.raises(BadConfig):
            render.gm_program(bad)
    two_tracks = Score(notes=(Note(start=0.0, end=1.0, pitch=60, program=0),
                              Note(start=0.0, end=1.0, pitch=67, program=24)))
    original = render.render_audio(two_tracks, soundfont=EMBEDDED)
    by_name = render.render_audio(two_tracks, soundfont=EMBEDDED, instruments={24: "Flute"})
    by_number = render.render_audio(Score(notes=(Note(start=0.0, end=1.0, pitch=60, program=0),
                                                 Note(start=0.0, end=1.0, pitch=67, program=73))),
                                    soundfont=EMBEDDED)
    assert np.mean(np.abs(by_name - original)) > 0.01
    np.testing.assert_allclose(by_name, by_number, atol=1e-6)  # track 24 became the flute (73), track 0 stayed
    with pytest.raises(BadConfig, match="Kazoo"):
        render.render_audio(two_tracks, soundfont=EMBEDDED, instruments={0: "Kazoo"})


def test_chorus_switch_changes_the_sound():
    dry = render.render_audio(c_major_scale(), soundfont=EMBEDDED, reverb=False)
    chorus = render.render_audio(c_major_scale(), soundfont=EMBEDDED, reverb=False, chorus=True)
    assert dry.shape == chorus.shape and np.mean(np.abs(dry - chorus)) > 1e-3


def test_soundfont_is_loaded_once_per_process(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "MAX_LOADED_SOUNDFONTS", 2)
    copies = []
    for i in range(3):
        copy = tmp_path / f"copy{i}.sf2"
        copy.write_bytes(EMBEDDED.read_bytes())
        copies.append(copy)
    render.load_soundfont(copies[0])
    assert str(copies[0].resolve()) in render.loaded_soundfonts()
    assert render._KEEPERS.hold(copies[0]) == 0.0  # already loaded: nothing read again
    render.render_audio(c_major_scale(), soundfont=copies[1])  # rendering loads it too
    render.load_soundfont(copies[2])
    loaded = render.loaded_soundfonts()
    assert str(copies[0].resolve()) not in loaded  # least recently used let go beyond the cap
    assert loaded[-2:] == [str(copies[1].resolve()), str(copies[2].resolve())]
    # a truncated soundfont: the header passes, FluidSynth refuses it, nothing is kept, rendering goes on
    truncated = tmp_path / "truncated.sf2"
    truncated.write_bytes(EMBEDDED.read_bytes()[: 200_000])
    with pytest.raises(RenderError, match="truncated.sf2"):
        render.load_soundfont(truncated)
    assert str(truncated.resolve()) not in render.loaded_soundfonts()
    assert rms(render.render_audio(c_major_scale(), soundfont=copies[2])) > 0.01


def test_mp3_of_mono_and_stereo_audio_keeps_channels_and_length():
    t = np.arange(SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for audio in (tone, np.stack([tone, tone], axis=1)):
        back, rate = sf.read(io.BytesIO(render.audio_to_mp3(audio, SR)))
        assert rate == SR and (back.ndim == 1) == (audio.ndim == 1)
        assert abs(len(back) - len(audio)) < 0.1 * SR
    with pytest.raises(RenderError, match="at most 2 channels"):
        render.audio_to_mp3(np.zeros((100, 3), np.float32), SR)
