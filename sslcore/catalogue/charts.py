"""Plotly figures of a set of studies (imported lazily: plotly is heavy)."""

from __future__ import annotations

from collections import Counter

STRATEGY_ORDER = ("contrastive", "non-contrastive", "generative", "innate-relationship", "hybrid", "")


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


def modality_strategy_heatmap(studies, taxonomy):
    """Heatmap of study counts, modality (rows) x strategy (columns). Each cell's ``customdata`` holds
    its raw (modality, strategy) values, so a click can be turned back into filters."""
    import plotly.graph_objects as go

    counts = Counter((s.modality, s.ssl_strategy) for s in studies)
    modalities = sorted({m for m, _ in counts}, key=lambda m: -sum(c for (mm, _), c in counts.items() if mm == m))
    strategies = [s for s in STRATEGY_ORDER if any(st == s for _, st in counts)]
    z = [[counts.get((m, s), 0) for s in strategies] for m in modalities]
    figure = go.Figure(go.Heatmap(
        z=z, x=[taxonomy.label("ssl_strategy", s) for s in strategies],
        y=[taxonomy.label("modality", m) for m in modalities],
        customdata=[[[m, s] for s in strategies] for m in modalities],
        text=[[str(v) if v else "" for v in row] for row in z], texttemplate="%{text}",
        colorscale="Blues", showscale=False, xgap=2, ygap=2,
        hovertemplate="%{y} x %{x}: %{z} studies<extra>click to filter</extra>"))
    figure.update_layout(title="Modality x strategy (click a cell to filter)", yaxis={"autorange": "reversed"},
                         margin={"t": 50, "b": 40}, height=120 + 32 * max(len(modalities), 1))
    return figure


def top_methods(studies, limit: int = 12):
    """Horizontal bar chart of the most frequent recognised method families."""
    import plotly.graph_objects as go

    counts = Counter(name for s in studies for name in s.method_families).most_common(limit)
    figure = go.Figure(go.Bar(x=[c for _, c in counts][::-1], y=[n for n, _ in counts][::-1], orientation="h",
                              marker_color="#4c78a8"))
    figure.update_layout(title="Most frequent methods", xaxis_title="Studies", margin={"t": 50, "b": 40, "l": 10},
                         height=120 + 26 * max(len(counts), 1))
    return figure
