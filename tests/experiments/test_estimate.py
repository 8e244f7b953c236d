from sslcore.experiments.estimate import format_duration


def test_format_duration_picks_a_readable_unit():
    assert [format_duration(s) for s in (42, 150, 7200)] == ["42 s", "2.5 min", "2.0 h"]
