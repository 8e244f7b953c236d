"""How a method of each strategy learns, drawn as a Graphviz DOT diagram (for ``st.graphviz_chart``)."""

from __future__ import annotations

_DIAGRAM_STYLE = ('digraph {rankdir=LR; bgcolor="transparent"; '
                  'node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11]; '
                  'edge [fontname="Helvetica", fontsize=9];')


def method_diagram(strategy: str, *, same_patient: bool = False, supervised: bool = False) -> str:
    """A Graphviz DOT drawing of how a method of this strategy learns (for ``st.graphviz_chart``).

    Args:
        strategy: ``contrastive``, ``non-contrastive``, ``generative``, ``innate-relationship`` or ``hybrid``.
        same_patient: the two views come from two images of the same patient (MICLe).
        supervised: the supervised baseline (image -> encoder -> classifier -> expert label).
    """
    # Two views of one image, or (MICLe) of two images of one patient.
    source = 'a [label="image"]; ' + ('b [label="another image\\nof the same patient"]; ' if same_patient else '')
    views = f'a -> v1 [label="augment"]; {"b" if same_patient else "a"} -> v2 [label="augment"];'
    if supervised:
        body = ('a [label="image"]; e [label="encoder"]; h [label="classifier"]; y [label="expert label"]; '
                'l [label="cross-entropy", shape=ellipse, fillcolor="#fde8d8"]; a -> e -> h -> l; y -> l;')
    elif strategy in ("contrastive", "hybrid"):
        body = (f'{source} v1 [label="view 1"]; v2 [label="view 2"]; {views} '
                'e1 [label="encoder"]; e2 [label="encoder\\n(same weights)"]; p1 [label="projector"]; p2 [label="projector"]; '
                'l [label="contrastive loss:\\npull the two views together,\\npush other images away", shape=ellipse, '
                'fillcolor="#fde8d8"]; v1 -> e1 -> p1 -> l; v2 -> e2 -> p2 -> l;')
    elif strategy == "non-contrastive":
        body = (f'{source} v1 [label="view 1"]; v2 [label="view 2"]; {views} '
                'e1 [label="online encoder"]; p1 [label="projector + predictor"]; '
                'e2 [label="target encoder\\n(slow copy or stop-gradient)"]; p2 [label="projector"]; '
                'l [label="agreement loss:\\nmake the two views match,\\nno negatives", shape=ellipse, fillcolor="#fde8d8"]; '
                'v1 -> e1 -> p1 -> l; v2 -> e2 -> p2 -> l; e1 -> e2 [style=dashed, label="weights", constraint=false];')
    elif strategy == "generative":
        body = ('a [label="image"]; m [label="mask most patches"]; e [label="encoder\\n(visible patches)"]; '
                'd [label="decoder"]; r [label="reconstructed image"]; '
                'l [label="reconstruction loss\\non the hidden patches", shape=ellipse, fillcolor="#fde8d8"]; '
                'a -> m -> e -> d -> r -> l; a -> l [style=dashed, label="original"];')
    elif strategy == "innate-relationship":
        body = ('a [label="image"]; t [label="transform\\n(e.g. rotate by 0, 90, 180 or 270°)"]; e [label="encoder"]; '
                'h [label="classifier"]; l [label="loss: predict\\nwhich transform", shape=ellipse, fillcolor="#fde8d8"]; '
                'a -> t -> e -> h -> l; t -> l [style=dashed, label="the answer"];')
    else:
        raise ValueError(f"no diagram for strategy {strategy!r}")
    return _DIAGRAM_STYLE + body + "}"
