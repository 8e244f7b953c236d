"""Plotly figures of a set of studies (imported lazily: plotly is heavy).

The figures a reader can click to filter (the modality x strategy matrix, the method bars) carry
each mark's raw facet values in ``customdata``; the page turns a selected point back into filters.
Plotly heatmap cells cannot be selected in Streamlit, so the matrix is a scatter of squares.
"""

from __future__ import annotations

from collections import Counter

STRATEGY_ORDER = ("contrastive", "non-contrastive", "generative", "innate-relationship", "hybrid", "")
SELECTED_LINE = {"color": "#d62728", "width": 3}


def studies_per_year(studies, taxonomy):
    """Bar chart: studies per year, stacked by SSL strategy."""
    import plotly.graph_objects as go

    counts = Counter((s.year, s.ssl_strategy) for s in studies if s.year)
    years = sorted({year for year, _ in counts})
    figure = go.Figure()
    for strategy in STRATEGY_ORDER:
        values = [counts.get((year, strategy), 0) for year in years]
        if any(values):
            figure.add_bar(x=years, y=values, name=taxonomy.label("ssl_strategy", strategy))
    figure.update_layout(barmode="stack", title="Studies per year, by SSL strategy", xaxis_title="Year",
                         yaxis_title="Studies", legend_title="Strategy", xaxis={"dtick": 1},
                         margin={"t": 50, "b": 40})
    return figure


def modality_strategy_matrix(studies, taxonomy, selected_modalities=(), selected_strategies=()):
    """Study counts by modality (rows) and strategy (columns), one square per non-empty cell, sized
    and shaded by its count; squares inside the current selection are outlined. Each point's
    ``customdata`` is its raw ``[modality, strategy]``."""
    import plotly.graph_objects as go

    counts = Counter((s.modality, s.ssl_strategy) for s in studies)
    by_modality = Counter(s.modality for s in studies)
    modalities = sorted(by_modality, key=lambda m: (-by_modality[m], m))
    strategies = [s for s in STRATEGY_ORDER if any(st == s for _, st in counts)]
    cells = [(m, s) for m in modalities for s in strategies if counts.get((m, s))]
    largest = max(counts.values(), default=1)
    selected = [(not selected_modalities or m in selected_modalities)
                and (not selected_strategies or s in selected_strategies)
                and bool(selected_modalities or selected_strategies) for m, s in cells]
    def column(strategy):  # a strategy's label on two short lines, so that the columns can stay upright
        return taxonomy.label("ssl_strategy", strategy).replace(" (", "<br>(")

    figure = go.Figure(go.Scatter(
        x=[column(s) for _, s in cells],
        y=[taxonomy.label("modality", m) for m, _ in cells],
        mode="markers+text", text=[str(counts[cell]) for cell in cells], textfont={"color": "black"},
        customdata=[[m, s] for m, s in cells],
        marker={"symbol": "square", "size": [18 + 22 * (counts[cell] / largest) ** 0.5 for cell in cells],
                "color": [counts[cell] for cell in cells], "colorscale": "Blues", "cmin": 0, "cmax": largest,
                "line": {"color": [SELECTED_LINE["color"] if chosen else "rgba(0,0,0,0.15)" for chosen in selected],
                         "width": [SELECTED_LINE["width"] if chosen else 1 for chosen in selected]}},
        hovertemplate="%{y}, %{x}: %{text} studies<extra>click to filter</extra>"))
    figure.update_layout(
        title="Modality x strategy: click a square to filter the studies",
        xaxis={"categoryorder": "array", "categoryarray": [column(s) for s in strategies], "side": "top",
               "showgrid": False, "tickangle": 0},
        yaxis={"categoryorder": "array", "categoryarray": [taxonomy.label("modality", m) for m in modalities],
               "autorange": "reversed", "showgrid": False},
        margin={"t": 120, "b": 20}, height=170 + 42 * max(len(modalities), 1), clickmode="event+select",
        dragmode=False)
    return figure


def top_methods(studies, limit: int = 12, selected=()):
    """Horizontal bar chart of the most frequent recognised method families; a bar's
    ``customdata`` is its family, bars of selected families are outlined."""
    import plotly.graph_objects as go

    counts = Counter(name for s in studies for name in s.method_families).most_common(limit)[::-1]
    figure = go.Figure(go.Bar(
        x=[c for _, c in counts], y=[n for n, _ in counts], orientation="h", customdata=[n for n, _ in counts],
        marker={"color": "#4c78a8", "line": {"color": [SELECTED_LINE["color"] if n in selected else "#4c78a8"
                                                       for n, _ in counts],
                                             "width": [SELECTED_LINE["width"] if n in selected else 0
                                                       for n, _ in counts]}},
        hovertemplate="%{y}: %{x} studies<extra>click to filter</extra>"))
    figure.update_layout(title="Most frequent methods: click a bar to filter", xaxis_title="Studies",
                         margin={"t": 50, "b": 40, "l": 10}, height=120 + 26 * max(len(counts), 1),
                         clickmode="event+select", dragmode=False)
    return figure
