from sslcore.runs.configs import config_diff, replay_command


def test_config_diff_keeps_only_differing_keys_including_nested_ones():
    first = {"method": "simclr", "epochs": 5, "evaluation": {"seeds": [0, 1]}}
    second = {"method": "byol", "epochs": 5, "evaluation": {"seeds": [0]}}
    table = config_diff({"a": first, "b": second})
    assert list(table.index) == ["evaluation.seeds", "method"]
    assert table.loc["method"].tolist() == ["simclr", "byol"]
    assert len(config_diff({"a": first, "b": second}, only_different=False)) == 3


def test_replay_command_quotes_the_path():
    assert replay_command("/tmp/my runs/1/config.yaml") == \
        "python -m sslcore experiment --config '/tmp/my runs/1/config.yaml'"
