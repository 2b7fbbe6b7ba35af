"""Harmonize: a melody becomes the soprano of a four-part chorale written by a real (tiny) frame model."""

import numpy as np
import pytest

from neurotunes.errors import BadConfig
from neurotunes.harmonize import MAX_MELODY_SECONDS, RANGES, VOICES, harmonize, prepare_melody
from neurotunes.keys import Key
from neurotunes.score import Note, Score
from tests.conftest import make_score

#: "Ode to Joy" in D major, quarter notes with a dotted ending: a melody anyone hums.
ODE = (66, 66, 67, 69, 69, 67, 66, 64, 62, 62, 64, 66, 66, 64, 64)


def _melody(pitches=ODE, beats=None, tempo=90.0, key=None) -> Score:
    beats = beats or [1.0] * len(pitches)
    spb, t, notes = 60.0 / tempo, 0.0, []
    for p, b in zip(pitches, beats):
        notes.append(Note(start=t * spb, end=(t + b) * spb, pitch=p))
        t += b
    return Score(notes=tuple(notes), tempo_bpm=tempo, key=key)


def _sounding(h, voice: str, t: float) -> int | None:
    return next((n.pitch for n in h.voice(voice).notes if n.start <= t + 1e-9 < n.end), None)


def test_the_melody_is_sung_note_for_note_over_three_voices_in_their_ranges(frame_bundle):
    melody = _melody(key=Key.parse("D major"))
    h = harmonize(frame_bundle, melody, seed=1)
    soprano = h.voice("Soprano")
    assert [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in soprano.notes] == \
        [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in melody.notes]
    assert sorted(i for voice in h.voices for i in voice) == list(range(len(h.score)))  # every note in one voice
    step = melody.seconds_per_beat / 4
    for k in range(int(round(melody.duration / step))):
        t = k * step
        chord = [_sounding(h, v, t) for v in VOICES]
        assert None not in chord, (t, chord)  # four voices in every sixteenth
        assert chord == sorted(chord, reverse=True) and len(set(chord)) == 4, (t, chord)  # S > A > T > B
        for voice, pitch in zip(VOICES[1:], chord[1:]):
            low, high = RANGES[voice]
            assert low <= pitch <= high, (voice, pitch)
        assert chord[0] - chord[1] <= 12 and chord[1] - chord[2] <= 12, chord
    assert h.messages == ()  # a singable melody in range: nothing changed
    assert h.score.key == Key.parse("D major")


def test_the_same_seed_gives_the_same_chorale_and_another_seed_another(frame_bundle):
    melody = _melody()
    a, b, c = (harmonize(frame_bundle, melody, seed=s) for s in (3, 3, 4))
    assert a.score == b.score
    assert a.score != c.score and a.voice("Soprano") == c.voice("Soprano")


def test_a_melody_in_another_key_is_harmonized_in_its_key(frame_bundle, monkeypatch):
    """The model learned in C major: the melody goes there and the chorale comes back, lower voices included.
    (With the voices' ranges out of the way: they are the singers', so they do not move with the key.)"""
    import neurotunes.harmonize as H

    monkeypatch.setattr(H, "RANGES", {v: (0, 127) for v in VOICES})
    in_c = harmonize(frame_bundle, _melody(tuple(p - 2 for p in ODE), key=Key.parse("C major")), seed=2)
    in_d = harmonize(frame_bundle, _melody(key=Key.parse("D major")), seed=2)
    assert [n.pitch + 2 for n in in_c.score.notes] == [n.pitch for n in in_d.score.notes]


def test_chords_high_notes_gaps_and_long_melodies_are_made_singable_and_said(frame_bundle):
    spb = 60.0 / 90
    chordal = _melody().with_notes([*_melody().notes, Note(start=0.0, end=2 * spb, pitch=55)])
    line, sung, said = prepare_melody(chordal, 4)
    assert [n.pitch for n in sung.notes] == list(ODE)
    assert any("top line" in m for m in said)

    high = _melody(tuple(p + 24 for p in ODE))
    h = harmonize(frame_bundle, high, seed=0)
    assert [n.pitch for n in h.voice("Soprano").notes] == [n.pitch for n in _melody().notes]
    assert any("2 octaves down" in m for m in h.messages)

    gapped = Score(notes=(Note(start=0.0, end=spb, pitch=67), Note(start=2 * spb, end=3 * spb, pitch=69)),
                   tempo_bpm=90.0)
    h = harmonize(frame_bundle, gapped, seed=0)
    assert [(n.pitch, round(n.end / spb, 3)) for n in h.voice("Soprano").notes] == [(67, 2.0), (69, 3.0)]
    assert any("Rests" in m for m in h.messages)

    notes = int(11 * 60 / 0.25)  # eleven minutes of eighth notes at 120 BPM
    long = make_score(pitches=tuple(67 + (i % 5) for i in range(notes)), step=0.25, dur=0.25, tempo=120.0)
    line, sung, said = prepare_melody(long, 4)
    assert sung.duration <= MAX_MELODY_SECONDS + 1e-6 and any("first 180 s" in m for m in said)


def test_what_cannot_be_harmonized_says_why(frame_bundle, tiny_bundle):
    event_model, _ = tiny_bundle
    with pytest.raises(BadConfig, match="cannot harmonize"):
        harmonize(event_model, _melody())
    with pytest.raises(BadConfig, match="no notes"):
        harmonize(frame_bundle, Score(notes=(), tempo_bpm=90.0))
    with pytest.raises(BadConfig, match="temperature"):
        harmonize(frame_bundle, _melody(), temperature=0.0)
    drums = Score(notes=(Note(start=0.0, end=0.5, pitch=38, is_drum=True),), tempo_bpm=90.0)
    with pytest.raises(BadConfig, match="no notes"):
        harmonize(frame_bundle, drums)
    assert np.isfinite(harmonize(frame_bundle, _melody(ODE[:1]), seed=0).score.duration)  # one note is enough


def test_cli_writes_midi_with_four_named_tracks_and_sheet_music_on_four_staves(frame_bundle, tmp_path, capsys):
    import pretty_midi

    from neurotunes.cli import main
    from neurotunes.midi_io import write_midi

    model = frame_bundle.save(tmp_path / "chorale-model")
    melody = tmp_path / "ode.mid"
    write_midi(_melody(tuple(p + 12 for p in ODE), key=Key.parse("D major")), melody)
    assert main(["harmonize", str(melody), "--model", str(model), "-o", str(tmp_path / "ode-satb.mid")]) == 0
    said = capsys.readouterr()
    assert "soprano, alto, tenor and bass" in said.out and "octave down" in said.err  # what changed, on stderr
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "ode-satb.mid"))
    assert [i.name for i in pm.instruments] == list(VOICES)
    assert [n.pitch for n in pm.instruments[0].notes] == list(ODE)  # the melody, where a soprano sings it
    assert all(len(i.notes) for i in pm.instruments)

    assert main(["harmonize", str(melody), "--model", str(model), "-o", str(tmp_path / "ode.musicxml")]) == 0
    xml = (tmp_path / "ode.musicxml").read_text()
    assert xml.count("<score-part ") == 4 and all(f"<part-name>{v}</part-name>" in xml for v in VOICES)
    assert "<clef-octave-change>-1</clef-octave-change>" in xml  # the tenor's clef

    assert main(["harmonize", str(melody), "--model", str(model), "-o", str(tmp_path / "x.txt")]) == 2
    assert "use one of .mid" in capsys.readouterr().err
    assert main(["harmonize", str(melody), "-o", str(tmp_path / "x.mid"), "--model", "lstm"]) == 2
    assert "cannot harmonize" in capsys.readouterr().err
