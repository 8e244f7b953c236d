import pytest

from sslcore.methods.diagram import method_diagram


@pytest.mark.parametrize("strategy, expected", [
    ("contrastive", "push other images away"), ("non-contrastive", "no negatives"),
    ("generative", "hidden patches"), ("innate-relationship", "which transform")])
def test_each_strategy_has_a_diagram_that_says_what_the_loss_asks(strategy, expected):
    dot = method_diagram(strategy)
    assert dot.startswith("digraph {") and dot.endswith("}") and expected in dot
    assert "same patient" in method_diagram(strategy, same_patient=True) or strategy != "contrastive"
    with pytest.raises(ValueError, match="no diagram"):
        method_diagram("telepathic")
