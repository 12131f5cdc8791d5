"""Issue 26, item 3: ``--group-by scene,creator`` keeps every value of each column on one side.

Rows sharing a value of any group column are one group (the union), so after the split
``curate check`` finds no value of either column in two splits. Through the real CLI, on generated
images whose rows cross-link scenes and creators (a scene shot by two creators, a creator in two
scenes): grouping by the (scene, creator) pair would put one scene on both sides.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import manifests
from curate import cli
from manifests import schema
from tests.fixtures import media

CLUSTERS = 16


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


def linked_manifest(root: Path) -> Path:
    """Per cluster: scenes a, b and creators x, y; rows (a, x), (a, y), (b, y), (b, -), (-, x), two each."""
    rows, n = [], 0
    for k in range(CLUSTERS):
        for scene, creator in (("a", "x"), ("a", "y"), ("b", "y"), ("b", None), (None, "x")):
            for _ in range(2):
                data = media.png(n)
                path = media.write(root / "img" / f"{n}.png", data)
                rows.append({schema.SHA256: hashlib.sha256(data).hexdigest(),
                             schema.PATH: path.relative_to(root).as_posix(), schema.LABEL: f"l{k % 2}",
                             schema.SOURCE: "test", schema.ORIGIN: str(path), schema.STATUS: schema.OK,
                             schema.SCENE: f"s{k}{scene}" if scene else None,
                             schema.CREATOR: f"c{k}{creator}" if creator else None})
                n += 1
    manifest = root / "manifest.csv"
    manifests.write(manifests.from_records(rows), manifest)
    return manifest


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_several_group_columns_keep_every_value_on_one_side(tmp_path: Path, seed: int,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    manifest = linked_manifest(tmp_path)
    code, out, err = run(["split", str(manifest), "--group-by", "scene,creator", "--seed", str(seed),
                          "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["groups"] == CLUSTERS  # each cluster is one group: the union of its values
    frame = manifests.read(manifest)
    for column in (schema.SCENE, schema.CREATOR):
        assert (frame.dropna(subset=[column]).groupby(column)[schema.SPLIT].nunique() == 1).all(), column
    code, out, _ = run(["check", str(manifest), "--json"], capsys)
    assert code == 0, out


def test_a_pin_names_a_value_of_any_group_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = linked_manifest(tmp_path)
    pins = tmp_path / "val.txt"
    pins.write_text("c3x\n")  # a creator: its whole cluster (scenes s3a, s3b) goes to val
    code, _, err = run(["split", str(manifest), "--group-by", "scene,creator", "--pin", f"val={pins}"],
                       capsys)
    assert code == 0, err
    frame = manifests.read(manifest)
    assert set(frame.loc[frame[schema.SCENE].isin(["s3a", "s3b"]), schema.SPLIT]) == {"val"}
