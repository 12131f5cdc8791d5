"""End to end: a user's own group column (``player``) gets what ``street`` gets: harvest folder
--group-field records it, curate split refuses to split randomly across it, and training reports
accuracy per player."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import manifests
from curate import cli as curate_cli
from harvest import cli as harvest_cli
from manifests import groups, schema
from tests.fixtures.models import ARCH

from .conftest import CLASSES, shape_image

PLAYERS = ("ann", "bob", "cy", "dee")


def _cli(main, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


def _shots(root: Path) -> Path:
    rng = np.random.default_rng(3)
    for s, player in enumerate(PLAYERS):
        for label in CLASSES:
            for n in range(3):
                path = root / player / f"{label}_{n}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                shape_image(label, s % 3, rng, side=24).save(path)
    return root


def test_player_is_not_a_group_unless_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shots, manifest = _shots(tmp_path / "shots"), tmp_path / "m.csv"
    code, _, _ = _cli(harvest_cli.main, ["folder", str(shots), "-m", str(manifest), "--pattern",
                                         "{player}/{shape}_{n}.png", "--label-field", "shape", "--json"],
                      capsys)
    assert code == 0 and manifests.group_columns(manifest) == ()
    code, _, err = _cli(curate_cli.main, ["split", str(manifest), "--dry-run"], capsys)
    assert code == 0, err


@pytest.mark.slow
def test_custom_group_column_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from train.runner import TrainOptions, train

    shots, manifest = _shots(tmp_path / "shots"), tmp_path / "m.csv"
    code, _, err = _cli(harvest_cli.main, ["folder", str(shots), "-m", str(manifest), "--pattern",
                                           "{player}/{shape}_{n}.png", "--label-field", "shape",
                                           "--group-field", "player", "--json"], capsys)
    assert code == 0, err
    assert groups.read_meta(manifest) == {"group_columns": {"player": "harvest folder"}}
    code, _, err = _cli(curate_cli.main, ["split", str(manifest)], capsys)
    assert code == 2 and "a 'player' column (4 values)" in err and "--group-by player" in err
    assert "Traceback" not in err and "have no :" not in err
    code, out, err = _cli(curate_cli.main, ["split", str(manifest), "--group-by", "player",
                                            "--ratios", "0.75,0.25", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["warnings"] == []
    rows = manifests.read(manifest)
    assert (rows.groupby("player")[schema.SPLIT].nunique() == 1).all()  # no player in two splits
    opts = TrainOptions(arch=ARCH, weights="none", epochs=1, freeze_epochs=0, img_size=16,
                        batch_size=8, workers=0, device="cpu", out=tmp_path / "run", review=2)
    train(manifest, opts)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    val_players = set(rows[rows[schema.SPLIT] == "val"]["player"])
    per_player = metrics["val"]["groups"]["player"]
    assert set(per_player) == val_players and sum(v["n"] for v in per_player.values()) == metrics["val"]["n"]
