from sslcore.runs.live import live_progress


def test_live_progress_takes_the_latest_values_and_the_loss_curve():
    rows = [{"step": step, "epoch": 1, "name": name, "value": value, "time": 0.0}
            for step, name, value in [(1, "loss", 4.0), (1, "progress", 0.1), (1, "eta_seconds", 90.0),
                                      (2, "loss", 3.5), (2, "progress", 0.2), (2, "eta_seconds", 80.0),
                                      (2, "knn_accuracy", 0.61), (2, "collapse_score", None)]]
    progress = live_progress(rows)
    assert (progress["fraction"], progress["eta_seconds"], progress["knn_accuracy"]) == (0.2, 80.0, 0.61)
    assert progress["curve"].to_dict("list") == {"step": [1, 2], "loss": [4.0, 3.5]}
    empty = live_progress([])
    assert empty["fraction"] == 0.0 and empty["loss"] is None and empty["curve"].empty


def test_the_live_view_compares_the_knn_accuracy_with_the_random_network_before_training():
    def rows(values):
        return [{"step": epoch * 10, "epoch": epoch, "name": "knn_accuracy", "value": value, "time": 0.0}
                for epoch, value in enumerate(values)]

    assert live_progress(rows([0.30, 0.25]))["learning"] is None  # one epoch: too early to say
    stuck = live_progress(rows([0.30, 0.27, 0.29]))
    assert stuck["knn_initial"] == 0.30 and stuck["learning"] is False
    assert live_progress(rows([0.30, 0.40, 0.55]))["learning"] is True
