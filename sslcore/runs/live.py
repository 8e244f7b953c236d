"""What the live view of a run shows, read from the metric rows its job streams to the store."""

from __future__ import annotations

from typing import Any, Iterable


def live_progress(metrics: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The latest state of a run, from its metric rows (``RunStore.metrics``).

    Returns:
        ``fraction`` (latest ``progress``, 0 before any), the latest ``eta_seconds``,
        ``images_per_second``, ``loss`` and ``knn_accuracy`` (None before any), ``knn_initial``
        (the kNN accuracy of the random network before the first step, None when not measured),
        ``learning`` (None, or whether the latest kNN accuracy is above the initial one once two
        epochs are done), and ``curve``: a DataFrame of step and loss.
    """
    import pandas as pd

    frame = pd.DataFrame(list(metrics), columns=["step", "epoch", "name", "value", "time"]).dropna(subset=["value"])
    latest = frame.groupby("name")["value"].last()

    def last(name: str) -> float | None:
        return float(latest[name]) if name in latest else None

    curve = frame[frame["name"] == "loss"][["step", "value"]].rename(columns={"value": "loss"})
    knn = frame[frame["name"] == "knn_accuracy"]
    initial = knn[knn["epoch"] == 0]["value"]
    knn_initial = float(initial.iloc[0]) if len(initial) else None
    epochs_done = int(knn["epoch"].max()) if len(knn) else 0
    learning = (None if knn_initial is None or epochs_done < 2
                else bool(float(knn["value"].iloc[-1]) > knn_initial))
    return {"fraction": min(1.0, max(0.0, last("progress") or 0.0)), "eta_seconds": last("eta_seconds"),
            "images_per_second": last("images_per_second"), "loss": last("loss"),
            "knn_accuracy": last("knn_accuracy"), "knn_initial": knn_initial, "learning": learning,
            "curve": curve.reset_index(drop=True)}
