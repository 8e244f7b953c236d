"""``python -m sslcore catalogue ...`` end to end through the CLI entry point."""

import json

import pytest

from sslcore.cli import main


def test_search_json_with_filters(capsys):
    assert main(["catalogue", "search", "moco", "chest", "--modality", "x-ray", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["key"] == "sowrirajan2021moco" and all(r["modality"] == "x-ray" for r in rows)


def test_import_reports_and_exit_codes(tmp_path, capsys):
    good = tmp_path / "mine.bib"
    good.write_text("@misc{mine2025, title={My study}, year={2025}}\n@misc{bad, title={No year}}\n")
    assert main(["catalogue", "import", str(good)]) == 0
    out = capsys.readouterr().out
    assert "1 added, 0 already in the catalogue, 1 rejected" in out and "bad: missing year" in out
    junk = tmp_path / "junk.bib"
    junk.write_text("nothing here")
    assert main(["catalogue", "import", str(junk)]) == 1
    assert main(["catalogue", "import", str(tmp_path / "absent.bib")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_export_bib_and_check(capsys):
    assert main(["catalogue", "export", "--strategy", "generative", "--year-from", "2024"]) == 0
    out = capsys.readouterr().out
    assert out.count("@") >= 1 and "kang2024deblurring" in out
    assert main(["catalogue", "check"]) == 0


@pytest.mark.parametrize("action", ["search", "import", "export", "check"])
def test_help(action, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["catalogue", action, "--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out
