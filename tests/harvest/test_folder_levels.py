"""Issue 26, item 1: a street level dropped, a re-import ignored, then a random split that leaks.

Through the real CLIs: ``harvest folder`` on ``streets/<street>/<label>/shot_N.png`` says in one line
that the street level is not read and which ``--pattern`` keeps it; the re-import with that pattern
writes the new fields to the rows already present and says how many; a declared group column that
no row carries is refused by ``curate split`` and ``curate balance`` and reported by ``curate check``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import manifests
from curate import cli as curate_cli
from harvest import cli as harvest_cli
from manifests import schema
from tests.fixtures import media

STREETS = ("elm", "oak", "ash")
SUITS = ("cash", "sell")


def run(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code), out, err


@pytest.fixture
def streets(tmp_path: Path) -> Path:
    root = tmp_path / "streets"
    for s, street in enumerate(STREETS):
        for k, suit in enumerate(SUITS):
            for n in range(2):
                media.write(root / street / suit / f"shot_{n}.png", media.png(100 * s + 10 * k + n))
    return root


def test_deeper_tree_names_the_pattern(streets: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "manifest.csv"
    code, _, err = run(harvest_cli.main, ["folder", str(streets), "-m", str(manifest)], capsys)
    assert code == 0
    hints = [line for line in err.splitlines() if line.startswith("hint:")]
    assert len(hints) == 1 and "--pattern '{group}/{label}/{file}'" in hints[0], err
    assert "12 files lie deeper than label/file" in hints[0]
    code, out, _ = run(harvest_cli.main, ["folder", str(streets), "-m", str(manifest), "--json"], capsys)
    assert code == 0 and len(json.loads(out)["hints"]) == 1


def test_a_flat_tree_gets_no_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for split in ("train", "val"):
        for label in SUITS:
            media.write(tmp_path / "flat" / split / label / "a.png", media.png(hash((split, label)) % 999))
    code, _, err = run(harvest_cli.main, ["folder", str(tmp_path / "flat"), "-m",
                                          str(tmp_path / "m.csv")], capsys)
    assert code == 0 and "hint:" not in err


def test_reimport_with_a_pattern_updates_the_rows_and_split_groups_by_street(
        streets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "manifest.csv"
    assert run(harvest_cli.main, ["folder", str(streets), "-m", str(manifest)], capsys)[0] == 0
    argv = ["folder", str(streets), "-m", str(manifest), "--pattern", "{street}/{suit}/shot_{n}.png",
            "--label-field", "suit"]
    code, _, err = run(harvest_cli.main, argv, capsys)
    assert code == 0 and "12 rows already present updated from their path" in err, err
    frame = manifests.read(manifest)
    assert len(frame) == 12 and sorted(frame["street"].unique()) == sorted(STREETS)
    assert (frame["suit"] == frame[schema.LABEL]).all()
    code, out, _ = run(harvest_cli.main, [*argv, "--json"], capsys)
    assert code == 0 and json.loads(out)["updated"] == 0  # nothing left to change
    code, _, err = run(curate_cli.main, ["split", str(manifest)], capsys)
    assert code == 2 and "--group-by street" in err  # the street column now exists: no random split
    code, _, err = run(curate_cli.main, ["split", str(manifest), "--group-by", "street"], capsys)
    assert code == 0, err
    code, out, _ = run(curate_cli.main, ["check", str(manifest), "--json"], capsys)
    assert code == 0, out


def test_a_declared_group_column_no_row_carries_is_refused(streets: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "manifest.csv"
    assert run(harvest_cli.main, ["folder", str(streets), "-m", str(manifest)], capsys)[0] == 0
    manifests.declare_groups(manifest, ["street"], by="harvest folder")  # as a stale declaration
    for argv in (["split", str(manifest)], ["split", str(manifest), "--random"], ["balance", str(manifest)]):
        code, _, err = run(curate_cli.main, argv, capsys)
        assert code == 4 and "'street'" in err and "no row holds" in err, (argv, err)
        assert "Traceback" not in err and len([ln for ln in err.splitlines() if "error" in ln]) == 1
    assert manifests.read(manifest)[schema.SPLIT].isna().all()
    code, out, _ = run(curate_cli.main, ["check", str(manifest), "--json"], capsys)
    assert code != 0 and "'street' is declared a group column" in out
