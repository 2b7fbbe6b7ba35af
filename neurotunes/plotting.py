"""Piano-roll figures (the only importer of ``plotly``).

Notes are drawn as horizontal bars, one ``go.Bar`` trace per group (primer /
generated), never one shape per note, so thousands of notes draw quickly.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Sequence

from . import constants as C
from .errors import BadConfig
from .score import Note, Score, pitch_name

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

log = logging.getLogger(__name__)

TIME_UNITS = ("seconds", "beats")
FIGURE_HEIGHT_PX = 350
PITCH_PADDING = 2  # semitones above and below the notes
BAR_THICKNESS = 0.8  # in semitones, leaving a hairline between neighbouring keys
OCTAVE = 12
EMPTY_PITCH_RANGE = (48, 72)  # C3-C5, the axis shown for an empty piece
TRACE_PRIMER = "primer"
TRACE_GENERATED = "generated"
TRACE_NOTES = "notes"
# Each colour scale starts at a visible mid-tone so quiet notes never vanish on
# a light or dark background.
GENERATED_COLORSCALE = [[0.0, "#c5b3ff"], [1.0, "#6a3df0"]]  # pale -> saturated violet (the app's accent)
PRIMER_COLORSCALE = [[0.0, "#ffd199"], [1.0, "#f26b00"]]  # pale -> saturated orange
GRID_COLOR = "rgba(128, 128, 128, 0.25)"
TRANSPARENT = "rgba(0, 0, 0, 0)"
MARGIN = {"l": 50, "r": 10, "t": 30, "b": 40}  # top: room for the legend
MARGIN_TOP_WITH_TITLE = 60
AXIS_TITLES = {"seconds": "time (s)", "beats": "beats"}
HOVER_UNITS = {"seconds": "s", "beats": "beats"}


def _note_bars(
    notes: Sequence[Note], *, name: str, colorscale: list, scale: float, unit: str, show_colorbar: bool
) -> "go.Bar":
    import numpy as np
    import plotly.graph_objects as go

    starts = np.fromiter((n.start for n in notes), dtype=float, count=len(notes)) * scale
    durations = np.fromiter((n.end - n.start for n in notes), dtype=float, count=len(notes)) * scale
    pitches = np.fromiter((n.pitch for n in notes), dtype=int, count=len(notes))
    velocities = np.fromiter((n.velocity for n in notes), dtype=int, count=len(notes))
    names = np.array([pitch_name(int(p)) for p in pitches], dtype=object)
    customdata = np.empty((len(notes), 4), dtype=object)
    customdata[:, 0] = names
    customdata[:, 1] = starts
    customdata[:, 2] = durations
    customdata[:, 3] = velocities
    marker: dict[str, Any] = {
        "color": velocities,
        "colorscale": colorscale,
        "cmin": C.MIDI_VELOCITY_MIN,
        "cmax": C.MIDI_VELOCITY_MAX,
        "line": {"width": 0},
        "showscale": show_colorbar,
    }
    if show_colorbar:
        marker["colorbar"] = {"title": {"text": "velocity"}, "thickness": 12, "len": 0.9}
    return go.Bar(
        name=name,
        orientation="h",
        base=starts,
        x=durations,
        y=pitches,
        width=BAR_THICKNESS,
        marker=marker,
        customdata=customdata,
        hovertemplate=(
            "<b>%{customdata[0]}</b><br>"
            f"start %{{customdata[1]:.2f}} {unit}<br>"
            f"duration %{{customdata[2]:.2f}} {unit}<br>"
            "velocity %{customdata[3]}"
            f"<extra>{name}</extra>"
        ),
        showlegend=True,
    )


def _c_ticks(low: int, high: int) -> tuple[list[int], list[str]]:
    first_c = low + (-low) % OCTAVE
    values = list(range(first_c, high + 1, OCTAVE))
    return values, [pitch_name(v) for v in values]


def piano_roll(
    score: Score,
    *,
    title: str | None = None,
    primer_notes: int = 0,
    time_unit: str = "seconds",
) -> "go.Figure":
    """Draw a Score as a piano roll.

    Parameters
    ----------
    score
        The piece.
    title
        Figure title, or ``None`` for none.
    primer_notes
        How many of the first notes (in ``score.notes`` order) were the primer
        the model continued; they are drawn in orange as trace ``"primer"``,
        the rest in blue as ``"generated"``.  With 0 every note is in one trace
        called ``"notes"``.
    time_unit
        ``"seconds"`` or ``"beats"`` (at ``score.tempo_bpm``) for the x axis.

    Returns
    -------
    plotly.graph_objects.Figure
        A compact (350 px high), transparent-background figure: one horizontal
        ``go.Bar`` trace per group, colour = velocity (with a colour bar), hover
        shows note name, start, duration and velocity.  An empty score gives an
        empty figure with a "no notes" annotation.

    Raises
    ------
    BadConfig
        ``time_unit`` is unknown or ``primer_notes`` is negative.
    """
    import plotly.graph_objects as go

    if time_unit not in TIME_UNITS:
        raise BadConfig(f"time unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}")
    if isinstance(primer_notes, bool) or not isinstance(primer_notes, int) or primer_notes < 0:
        raise BadConfig(f"primer_notes must be a whole number >= 0, got {primer_notes!r}")

    scale = 1.0 if time_unit == "seconds" else 1.0 / score.seconds_per_beat
    unit = HOVER_UNITS[time_unit]
    notes = score.notes
    primer, generated = notes[:primer_notes], notes[primer_notes:]
    traces = []
    if primer:
        traces.append(
            _note_bars(
                primer,
                name=TRACE_PRIMER,
                colorscale=PRIMER_COLORSCALE,
                scale=scale,
                unit=unit,
                show_colorbar=not generated,
            )
        )
    if generated:
        traces.append(
            _note_bars(
                generated,
                name=TRACE_GENERATED if primer_notes else TRACE_NOTES,
                colorscale=GENERATED_COLORSCALE,
                scale=scale,
                unit=unit,
                show_colorbar=True,
            )
        )

    fig = go.Figure(data=traces)
    if notes:
        low = min(n.pitch for n in notes) - PITCH_PADDING
        high = max(n.pitch for n in notes) + PITCH_PADDING
    else:
        low, high = EMPTY_PITCH_RANGE
    tick_values, tick_text = _c_ticks(low, high)
    fig.update_layout(
        template="plotly_white",
        height=FIGURE_HEIGHT_PX,
        margin={**MARGIN, "t": MARGIN_TOP_WITH_TITLE if title else MARGIN["t"]},
        barmode="overlay",
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        showlegend=bool(notes),
    )
    fig.update_xaxes(title_text=AXIS_TITLES[time_unit], gridcolor=GRID_COLOR, zeroline=False, rangemode="tozero")
    fig.update_yaxes(
        title_text="pitch",
        range=[low, high],
        tickvals=tick_values,
        ticktext=tick_text,
        gridcolor=GRID_COLOR,
        zeroline=False,
    )
    if title:
        fig.update_layout(title={"text": title, "x": 0.0, "xanchor": "left"})
    if not notes:
        fig.add_annotation(
            text="no notes", xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font={"size": 16}
        )
        fig.update_xaxes(showticklabels=False)
    return fig


ACCENT = "#7c4dff"
SECOND = "#f26b00"
SMALL_FIGURE_HEIGHT_PX = 260


def _compact_layout(fig: "go.Figure", *, title: str, x_title: str, y_title: str) -> "go.Figure":
    fig.update_layout(
        template="plotly_white", height=SMALL_FIGURE_HEIGHT_PX, margin={**MARGIN, "t": MARGIN_TOP_WITH_TITLE},
        paper_bgcolor=TRANSPARENT, plot_bgcolor=TRANSPARENT,
        title={"text": title, "x": 0.0, "xanchor": "left"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    fig.update_xaxes(title_text=x_title, gridcolor=GRID_COLOR, zeroline=False)
    fig.update_yaxes(title_text=y_title, gridcolor=GRID_COLOR, zeroline=False)
    return fig


def histogram_bars(counts: dict, *, title: str, x_title: str, label=None) -> "go.Figure":
    """A bar chart of ``{value: count}`` (dataset statistics); ``label`` turns values into tick text."""
    import plotly.graph_objects as go

    keys = list(counts)
    text = [label(k) if label else str(k) for k in keys]
    fig = go.Figure(go.Bar(x=text, y=[counts[k] for k in keys], marker_color=ACCENT,
                           hovertemplate="%{x}: %{y}<extra></extra>"))
    fig.update_xaxes(type="category")
    return _compact_layout(fig, title=title, x_title=x_title, y_title="count")


def pitch_histogram(counts: dict[int, int], *, title: str = "Pitches") -> "go.Figure":
    return histogram_bars(counts, title=title, x_title="pitch", label=pitch_name)


def training_curves(
    history: dict[str, list[float]], *, batch_losses: list[tuple[float, float]] | None = None
) -> "go.Figure":
    """Loss and accuracy per epoch (train and validation), plus the smoothed per-batch loss."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss (nats/token)", "accuracy"))
    epochs = list(range(1, len(history.get("loss", [])) + 1))
    styles = {"loss": (1, ACCENT, "train"), "val_loss": (1, SECOND, "validation"),
              "accuracy": (2, ACCENT, "train"), "val_accuracy": (2, SECOND, "validation")}
    for key, (col, color, name) in styles.items():
        if history.get(key):
            fig.add_trace(go.Scatter(x=epochs, y=history[key], mode="lines+markers", name=name, line={"color": color},
                                     legendgroup=name, showlegend=col == 1), row=1, col=col)
    if batch_losses:
        smoothed, value = [], batch_losses[0][1]
        for _, loss in batch_losses:
            value = 0.9 * value + 0.1 * loss  # exponential moving average, like TensorBoard's smoothing
            smoothed.append(value)
        xs = [position for position, _ in batch_losses]
        fig.add_trace(go.Scatter(x=xs, y=smoothed, mode="lines", name="train (per batch, smoothed)",
                                 line={"color": ACCENT, "dash": "dot", "width": 1}), row=1, col=1)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(template="plotly_white", height=300, margin={**MARGIN, "t": MARGIN_TOP_WITH_TITLE},
                      paper_bgcolor=TRANSPARENT, plot_bgcolor=TRANSPARENT,
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.08, "xanchor": "right", "x": 1.0})
    return fig


def choice_bars(tokens: list[str], probs: list[float], *, chosen: str, title: str) -> "go.Figure":
    """The model's top choices at one step, the token it picked highlighted."""
    import plotly.graph_objects as go

    colors = [SECOND if t == chosen else ACCENT for t in tokens]
    labels = [_token_label(t) for t in tokens]
    fig = go.Figure(go.Bar(x=labels, y=probs, marker_color=colors, hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%")
    return _compact_layout(fig, title=title, x_title="next token (orange: the one drawn)", y_title="probability")


def _token_label(token: str) -> str:
    kind, _, value = token.partition("_")
    if kind == "NOTE":
        return pitch_name(int(value))
    if kind == "DUR":
        return f"lasts {value}/16"
    if kind == "SHIFT":
        return f"wait {value}/16"
    return token


#: Colours of the sets on evaluation plots: the real pieces first, then each model.
REFERENCE_COLOR = "#9e9e9e"
SET_COLORS = (ACCENT, SECOND, "#00a884", "#e6399b", "#2d7ff9", "#b5a000")
DEGREE_NAMES = ("1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7")


def _set_colors(names: Sequence[str], reference: str) -> dict[str, str]:
    others = [n for n in names if n != reference]
    colors = {n: SET_COLORS[i % len(SET_COLORS)] for i, n in enumerate(others)}
    colors[reference] = REFERENCE_COLOR
    return colors


def feature_boxes(sets: dict[str, Sequence[dict]], features: Sequence[str], labels: dict[str, str], *,
                  reference: str) -> "go.Figure":
    """One box plot per scalar feature: its values in the real pieces and in each model's samples."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cols = min(len(features), 3)
    rows = -(-len(features) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[labels.get(f, f) for f in features],
                        vertical_spacing=0.16, horizontal_spacing=0.06)
    colors = _set_colors(list(sets), reference)
    for i, feature in enumerate(features):
        row, col = divmod(i, cols)
        for name, pieces in sets.items():
            values = [p[feature] for p in pieces if isinstance(p.get(feature), (int, float))]
            fig.add_trace(go.Box(y=values, name=name, marker_color=colors[name], boxmean=True, legendgroup=name,
                                 showlegend=i == 0, hovertemplate=f"{name}: %{{y:.3f}}<extra></extra>"),
                          row=row + 1, col=col + 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(template="plotly_white", height=280 * rows, margin={**MARGIN, "t": MARGIN_TOP_WITH_TITLE},
                      paper_bgcolor=TRANSPARENT, plot_bgcolor=TRANSPARENT,
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "xanchor": "right", "x": 1.0})
    return fig


def histogram_profiles(sets: dict[str, Sequence[dict]], feature: str, *, reference: str, title: str,
                       tick_labels: Sequence[str]) -> "go.Figure":
    """A histogram feature (pitch classes, intervals, IOIs) averaged over each set, the sets side by side."""
    import numpy as np
    import plotly.graph_objects as go

    colors = _set_colors(list(sets), reference)
    fig = go.Figure()
    for name, pieces in sets.items():
        rows = [p[feature] for p in pieces if p.get(feature)]
        if not rows:
            continue
        fig.add_trace(go.Bar(x=list(tick_labels), y=np.mean(np.asarray(rows, dtype=float), axis=0), name=name,
                             marker_color=colors[name], hovertemplate=f"{name} · %{{x}}: %{{y:.1%}}<extra></extra>"))
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%")
    fig.update_layout(barmode="group")
    return _compact_layout(fig, title=title, x_title="", y_title="share")
