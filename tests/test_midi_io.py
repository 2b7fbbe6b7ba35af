import io

import pretty_midi
import pytest

from neurotunes.errors import BadMidi
from neurotunes.keys import Key
from neurotunes.midi_io import midi_to_score, score_to_midi
from neurotunes.score import Note, Score


def _pm_bytes(pm: pretty_midi.PrettyMIDI) -> bytes:
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def test_round_trip_keeps_notes_tempo_metadata(scale):
    s = scale.replace(tempo_bpm=96.0, key="D major", time_signature=(3, 4)).with_metadata(recipe={"seed": 7})
    back = midi_to_score(score_to_midi(s), name="t.mid")
    assert [n.pitch for n in back.notes] == [n.pitch for n in s.notes]
    for a, b in zip(back.notes, s.notes):
        assert a.start == pytest.approx(b.start, abs=2e-3)
        assert a.end == pytest.approx(b.end, abs=2e-3)
        assert a.velocity == b.velocity
    assert back.tempo_bpm == pytest.approx(96.0, rel=1e-3)
    assert back.time_signature == (3, 4)
    assert back.key == Key(2, "major")
    assert back.metadata["recipe"] == {"seed": 7}


def test_programs_become_separate_tracks():
    s = Score(notes=(Note(start=0, end=1, pitch=60, program=0), Note(start=0, end=1, pitch=48, program=33)))
    pm = pretty_midi.PrettyMIDI(io.BytesIO(score_to_midi(s)))
    assert sorted(i.program for i in pm.instruments) == [0, 33]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"hello, I am a text file", "not a MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01", "could not be read"),
    ],
)
def test_bad_bytes_give_clear_errors(data, message):
    with pytest.raises(BadMidi, match=message):
        midi_to_score(data, name="upload.mid")


def test_truncated_file_is_rejected(scale):
    data = score_to_midi(scale)
    with pytest.raises(BadMidi, match="upload.mid"):
        midi_to_score(data[: len(data) // 2], name="upload.mid")


def test_drum_only_and_empty_files():
    pm = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 36, 0, 0.2))
    pm.instruments.append(drums)
    with pytest.raises(BadMidi, match="only drum"):
        midi_to_score(_pm_bytes(pm), name="beat.mid")
    with pytest.raises(BadMidi, match="no notes"):
        midi_to_score(_pm_bytes(pretty_midi.PrettyMIDI()), name="blank.mid")


def test_absurd_timing_is_rejected():
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes.append(pretty_midi.Note(100, 60, 0, 10 * 60 * 60))  # a ten-hour note
    pm.instruments.append(inst)
    with pytest.raises(BadMidi, match="long.mid"):
        midi_to_score(_pm_bytes(pm), name="long.mid")


def _tempo_file(tempo_us: int, pitch_byte: int = 60) -> bytes:
    import mido

    mf = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mf.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=tempo_us, time=0))
    track.append(mido.Message("note_on", note=60, velocity=80, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue().replace(bytes([0x90, 60]), bytes([0x90, pitch_byte]))


def test_absurd_tempo_and_pitches_outside_midi_are_messages():
    with pytest.raises(BadMidi, match=r"fast.mid: all its notes fit into 0\.001 ms.*60,000,000 BPM"):
        midi_to_score(_tempo_file(1), name="fast.mid")
    slow = midi_to_score(_tempo_file(16_777_215), name="slow.mid")  # 3.6 BPM: slow but playable
    assert slow.tempo_bpm == 10.0 and slow.notes[0].end == pytest.approx(16.777, abs=1e-3)
    with pytest.raises(BadMidi, match=r"high.mid could not be read as MIDI \(data byte must be in range 0\.\.127\)"):
        midi_to_score(_tempo_file(500_000, pitch_byte=200), name="high.mid")
