"""Sample rates, limits and defaults.  No magic numbers elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

# --- MIDI ----------------------------------------------------------------
MIDI_PITCH_MIN = 0
MIDI_PITCH_MAX = 127
MIDI_VELOCITY_MIN = 1
MIDI_VELOCITY_MAX = 127
MIDI_PROGRAM_MAX = 127
DEFAULT_VELOCITY = 80
DEFAULT_PROGRAM = 0  # Acoustic Grand Piano
DEFAULT_TEMPO_BPM = 120.0
MIN_TEMPO_BPM = 10.0
MAX_TEMPO_BPM = 400.0
DEFAULT_TIME_SIGNATURE = (4, 4)
MAX_NOTES = 200_000  # a Score with more notes is refused (memory / UI safety)
MAX_SCORE_SECONDS = 60.0 * 60.0  # one hour
MIDI_TICKS_PER_BEAT = 480
#: Score.metadata keys that notation fills in where it says: the quarter notes of the first bar before the piece
#: starts (a pickup's missing part; 0: it starts on a downbeat) and the onsets of notes under a fermata (quarter
#: notes from the start, in order).  The bar-frame encoding writes both.
PICKUP_KEY = "pickup_beats"
FERMATAS_KEY = "fermata_beats"

# --- Audio ---------------------------------------------------------------
RENDER_SAMPLE_RATE = 44_100
AUDIO_EXTENSIONS = ("mp3", "wav", "ogg", "flac")
MIDI_EXTENSIONS = ("mid", "midi")
# Hosts can lower (or raise) the caps without code changes.
MAX_UPLOAD_MB = int(os.environ.get("NEUROTUNES_MAX_UPLOAD_MB", "50"))
MAX_AUDIO_SECONDS = float(os.environ.get("NEUROTUNES_MAX_AUDIO_SECONDS", str(10 * 60)))
RENDER_TAIL_SECONDS = 1.0  # let the last notes ring out
RENDER_PEAK = 0.89  # the ceiling: no sample above about -1 dBFS, never clip
RENDER_LOUDNESS_DB = -18.0  # every rendering is brought to this gated RMS loudness (dBFS) when the ceiling allows

# --- Transcription (Basic Pitch defaults) ---------------------------------
BP_ONSET_THRESHOLD = 0.5
BP_FRAME_THRESHOLD = 0.3
BP_MIN_NOTE_MS = 127.70
BP_MIDI_TEMPO = 120.0

# --- Encoding / model ----------------------------------------------------
STEPS_PER_QUARTER = 4  # 1/16-note grid
MAX_SHIFT_STEPS = 16  # one time-shift token moves at most a whole 4/4 bar
MAX_DURATION_STEPS = 32  # longest note duration token: two bars of 4/4
SEQUENCE_LENGTH = 128
PITCH_LOW = 21  # piano range A0
PITCH_HIGH = 108  # C8

# --- Generation ----------------------------------------------------------
DEFAULT_GENERATE_NOTES = 200
MAX_GENERATE_NOTES = 2000
MAX_GENERATE_SECONDS = 20 * 60  # of music
#: Every generation stops, with a message, at whichever budget it meets first: no model (a broken one, a
#: NaN one, one that only rests) and no setting (a 2000-note beam search of width 16) can run unbounded.
#: Tokens: the event encoding spends about 2.5 tokens per note on chorales (a note, its duration and a share
#: of a time shift); 8 per note is room for any real music.
MAX_TOKENS_PER_NOTE = 8
GENERATE_TOKEN_SLACK = 64
#: Tokens in a row that finish no note: the model has stopped writing music.
NO_PROGRESS_TOKENS = 256
#: Wall-clock seconds one generation may compute (a host can lower or raise it).
MAX_GENERATE_WALL_SECONDS = float(os.environ.get("NEUROTUNES_MAX_GENERATE_WALL_SECONDS", "30"))
MAX_VARIATIONS = 8
#: A continuation samples with the take's seed plus this, so it does not replay the take's own choices.
CONTINUATION_SEED_OFFSET = 1000
MAX_SEED = 2**31 - 1  # seeds are 31-bit: every NumPy and TensorFlow seed API takes them
DEFAULT_TEMPERATURE = 1.0

# --- Paths ---------------------------------------------------------------
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
ASSETS_DIR = REPO_DIR / "assets"
#: What a new user hears: BachBot's voice-ordered frames, the beat marked (four-part chorales, and the model
#: that harmonizes a tune: its soprano is each frame's first note).
DEFAULT_MODEL_DIR = ASSETS_DIR / "models" / "bach-chorale-frames"
#: Models that ship in assets/: name -> (label, folder).  "default" is what a new user hears.
SHIPPED_MODELS = {
    "default": ("Bach chorales, four voices (shipped)", DEFAULT_MODEL_DIR),
    # One note a frame, the beat marked: the fiddle tunes' rhythm (the event LSTM ran into sixteenth-note runs).
    "fiddle": ("Fiddle tunes (shipped)", ASSETS_DIR / "models" / "fiddle-frames"),
    # The default until the four-voice model passed it (its harmony: 0.59 of chords diatonic against Bach's 0.80).
    # Notes and chords as events: the quickest to teach a user's own pieces.
    "lstm": ("Bach chorales LSTM (shipped)", ASSETS_DIR / "models" / "bach-lstm"),
}
#: Names a shipped model had before, still understood (the CLI, links and pieces made then): old name -> name.
#: (A link that names "default" with the event LSTM's hash finds it by its hash: see neurotunes.share.)
SHIPPED_ALIASES = {"chorale": "default"}
#: The shipped models that learned four-part writing: the Harmonize page offers these (and the session's own frame
#: models). The fiddle model writes frames too, so it could be forced, but it learned one tune, not four voices.
HARMONIZING_MODELS = ("default",)


def shipped_name(name: str) -> str | None:
    """The shipped model ``name`` means today (its own name, or the one an older name points to); None if none."""
    name = SHIPPED_ALIASES.get(name, name)
    return name if name in SHIPPED_MODELS else None
SYSTEM_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf3/FluidR3_GM.sf3"),
)


def data_dir() -> Path:
    """Folder for user data (gallery, trained models); ``NEUROTUNES_DATA_DIR`` overrides."""
    return Path(os.environ.get("NEUROTUNES_DATA_DIR", Path.home() / ".neurotunes"))
