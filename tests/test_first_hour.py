"""What a new user hits in the first hour (issue 26): misuse that must end in one clear line.

Each case runs a real command in this process through its ``main(argv)`` (as ``tests/test_exit_codes.py``
does) and checks the exit code and the words of the one line a user reads, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

import manifests
from curate import cli as curate_cli
from harvest import cli as harvest_cli
from manifests import schema
from tests.fixtures import media
from train import cli as train_cli

CLIS = {"harvest": harvest_cli, "curate": curate_cli, "train": train_cli}


def cli(prog: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run a command through its ``main(argv)``: exit code and stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        CLIS[prog].main(args)
    return int(exc.value.code or 0), capsys.readouterr().err


def one_line_error(code: int, err: str, expected_code: int, *words: str) -> None:
    assert code == expected_code, err
    assert "Traceback" not in err, err
    line = next((x for x in err.splitlines() if x.startswith(("error:", "Error:"))), "")
    assert line, f"no error line in {err!r}"
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"


def small_manifest(root: Path, name: str = "m.csv") -> Path:
    """Six labelled, split ok rows (their files do not exist)."""
    path = root / name
    manifests.write(manifests.from_records(
        [{schema.SHA256: f"{i:064x}", schema.SOURCE: "folder", schema.ORIGIN: f"o{i}", schema.STATUS: "ok",
          schema.LABEL: "ab"[i % 2], schema.PATH: f"images/{i}.png", schema.SPLIT: "train"}
         for i in range(6)]), path)
    return path


# -- item 9 ---------------------------------------------------------------------------------------


def test_a_parquet_file_named_csv_is_named_parquet(tmp_path, capsys):
    parquet = small_manifest(tmp_path, "m.parquet")
    disguised = tmp_path / "data.csv"
    disguised.write_bytes(parquet.read_bytes())
    code, err = cli("curate", ["stats", str(disguised)], capsys)
    one_line_error(code, err, 4, "is a Parquet file", "data.parquet")


def test_an_existing_plain_folder_is_not_silently_a_partitioned_manifest(tmp_path, capsys):
    media.write(tmp_path / "shots" / "cat" / "a.png", media.png(1, (16, 16)))
    folder = tmp_path / "out"
    folder.mkdir()
    code, err = cli("harvest", ["folder", str(tmp_path / "shots"), "-m", str(folder)], capsys)
    one_line_error(code, err, 4, "is a folder, not a manifest", ".parquet")
    assert not any(folder.iterdir()), "nothing may be written into the folder"
    # a folder named .parquet is a partitioned manifest, as docs/cluster.md says
    parted = tmp_path / "m.parquet"
    parted.mkdir()
    code, err = cli("harvest", ["folder", str(tmp_path / "shots"), "-m", str(parted)], capsys)
    assert code == 0, err
    assert len(manifests.read(parted)) == 1


@pytest.mark.parametrize("content", ["", "header"])
def test_balance_of_an_empty_manifest_says_so(tmp_path, capsys, content):
    path = tmp_path / "m.csv"
    path.write_text(",".join(schema.REQUIRED) + "\n" if content else "", encoding="utf-8")
    code, err = cli("curate", ["balance", str(path)], capsys)
    one_line_error(code, err, 4, "no status=ok rows")


def test_export_to_a_file_is_the_documented_input_error(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("keep me", encoding="utf-8")
    code, err = cli("curate", ["export", str(small_manifest(tmp_path)), str(target)], capsys)
    one_line_error(code, err, 4, "is a file, not a folder")
    assert target.read_text(encoding="utf-8") == "keep me"


def test_split_val_points_at_ratios(tmp_path, capsys):
    code, err = cli("curate", ["split", str(small_manifest(tmp_path)), "--val", "0.9"], capsys)
    one_line_error(code, err, 2, "--val", "--ratios")


@pytest.mark.parametrize(("typo", "command"), [("predct", "predict"), ("evl", "eval")])
def test_train_typos_get_did_you_mean(tmp_path, capsys, monkeypatch, typo, command):
    monkeypatch.chdir(tmp_path)
    code, err = cli("train", [typo, "x"], capsys)
    one_line_error(code, err, 2, typo, f"Did you mean '{command}'")


def test_a_manifest_named_like_a_command_is_still_trained_on(tmp_path, monkeypatch):
    """A file that exists is a manifest, whatever its name: ``train evl`` trains on ./evl."""
    monkeypatch.chdir(tmp_path)
    Path("evl").write_text("", encoding="utf-8")
    assert train_cli.with_default_command(["evl"]) == ["run", "evl"]
    assert train_cli.with_default_command(["-v", "data.csv"]) == ["-v", "run", "data.csv"]


# -- item 11 --------------------------------------------------------------------------------------

# Holds a manifest's lock from another process, as `curate dedupe` would, until killed.
HOLDER = """
import sys, time, manifests
from manifests import lineage
lineage.use_command(["curate", "dedupe", sys.argv[1]])
with manifests.locked(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_waiting_command_says_who_holds_the_lock_and_keeps_saying_it(tmp_path, capsys, monkeypatch):
    import json
    import subprocess
    import sys
    import time

    from manifests import lock

    monkeypatch.chdir(tmp_path)  # short names, as a user types them: log lines wrap at spaces only
    manifest = small_manifest(Path("."))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(manifest)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        record = json.loads(lock.lock_path(manifest).read_text(encoding="utf-8"))
        assert record["pid"] == holder.pid and record["command"] == f"curate dedupe {manifest}"
        assert abs(record["since"] - time.time()) < 300
        monkeypatch.setenv("GLEANSET_LOCK_TIMEOUT", "1.5")
        monkeypatch.setattr(lock, "REMIND_EVERY", 0.5)
        code, err = cli("curate", ["split", str(manifest), "--random"], capsys)
    finally:
        holder.kill()
        holder.wait()
    since = time.strftime("%H:%M", time.localtime(record["since"]))
    logged = " ".join(err.split())  # the log handler wraps long records
    assert f"waiting for m.csv (locked by PID {holder.pid}: `curate dedupe m.csv` since {since})" in logged
    assert re.search(rf"still waiting for m\.csv after \d+ s \(locked by PID {holder.pid}:", logged), err
    one_line_error(code, err, 5, "is locked by another command", f"PID {holder.pid}")
    assert lock.holder(manifest) is not None  # a killed holder's record stays until the next holder
    with manifests.locked(manifest):
        assert lock.holder(manifest).pid == os.getpid()
    assert lock.holder(manifest) is None


# -- item 14 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_every_file_written_gets_the_umask_mode(tmp_path, capsys, mask):
    """Manifests (CSV and a partitioned Parquet folder), sidecars, the lock, the lineage log, stored
    images and hard-linked exports: each gets 0666 less the umask, as a plain ``open()`` would."""
    for i in range(4):
        media.write(tmp_path / "shots" / f"street{i % 2}" / "ab"[i // 2] / f"{i}.png", media.png(i, (16, 16)))
    (tmp_path / "data" / "parts.parquet").mkdir(parents=True)  # a partitioned manifest
    old = os.umask(mask)
    try:
        for target in ("data/manifest.csv", "data/parts.parquet"):
            code, err = cli("harvest", ["folder", str(tmp_path / "shots"), "-m", str(tmp_path / target),
                                        "--copy", "--pattern", "{street}/{label}/{n}.png"], capsys)
            assert code == 0, err
        manifest = str(tmp_path / "data" / "manifest.csv")
        for argv in (["split", manifest, "--group-by", "street", "--ratios", "0.5,0.5"],
                     ["export", manifest, str(tmp_path / "out")]):
            code, err = cli("curate", argv, capsys)
            assert code == 0, err
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    files += [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".csv", ".json", ".png", ".parquet", ".lock", ".jsonl"} <= kinds, kinds
    assert len(list((tmp_path / "data" / "parts.parquet").glob("part-*.parquet"))) >= 1
    assert any(p.stat().st_nlink > 1 for p in (tmp_path / "out").rglob("*.png")), "exports are hard links"
    wrong = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777) for p in files
             if p.stat().st_mode & 0o777 != 0o666 & ~mask}
    assert not wrong, f"not {oct(0o666 & ~mask)}: {wrong}"


# -- item 16 --------------------------------------------------------------------------------------


def test_hf_export_loads_label_as_a_classlabel_of_the_class_names(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets", reason="datasets is in the dev extra")
    for i in range(6):
        media.write(tmp_path / "shots" / ("cat", "dog", "sea horse")[i % 3] / f"{i}.png",
                    media.png(i, (16, 16)))
    manifest, out = str(tmp_path / "m.csv"), tmp_path / "hf"
    for prog, argv in (("harvest", ["folder", str(tmp_path / "shots"), "-m", manifest]),
                       ("curate", ["split", manifest, "--random", "--ratios", "0.5,0.5"]),
                       ("curate", ["export", manifest, str(out), "--format", "hf"])):
        code, err = cli(prog, argv, capsys)
        assert code == 0, err
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    truth = manifests.read(manifest).set_index(schema.SHA256)[schema.LABEL].to_dict()
    for split in loaded.values():
        feature = split.features["label"]
        assert isinstance(feature, datasets.ClassLabel), feature
        assert feature.names == ["cat", "dog", "sea horse"]
        for row in split:  # each image's class, by its content, is the manifest's
            sha = hashlib.sha256(Path(row["image"].filename).read_bytes()).hexdigest()
            assert feature.int2str(row["label"]) == truth[sha]


# -- item 6 ---------------------------------------------------------------------------------------


def _scored(root: Path, hit_rate: float, seed: int = 0) -> tuple[Path, Path, float]:
    """40 rows of two classes and out-of-fold predictions (2 folds) whose argmax is right on about
    ``hit_rate`` of them; returns the manifest, the predictions and their true accuracy."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    labels = np.array(["a", "b"] * 20)
    path = root / "m.csv"
    manifests.write(manifests.from_records(
        [{schema.SHA256: f"{i:064x}", schema.SOURCE: "folder", schema.ORIGIN: f"o{i}", schema.STATUS: "ok",
          schema.LABEL: label, schema.PATH: f"images/{i}.png"} for i, label in enumerate(labels)]), path)
    right = rng.random(40) < hit_rate
    p_a = rng.uniform(0.55, 0.95, 40)
    p_a = np.where((labels == "a") == right, p_a, 1 - p_a)  # argmax is the label exactly where right
    table = pd.DataFrame({schema.SHA256: [f"{i:064x}" for i in range(40)], schema.LABEL: labels,
                          "fold": np.arange(40) % 2, "p_a": p_a, "p_b": 1 - p_a})
    table.to_csv(root / "m.oof.csv", index=False)
    return path, root / "m.oof.csv", float(right.mean())


def _run(prog: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        CLIS[prog].main(args)
    said = capsys.readouterr()
    return int(exc.value.code or 0), said.out, said.err


@pytest.mark.parametrize(("hit_rate", "warned"), [(0.5, True), (0.95, False)])
def test_label_issues_says_the_folds_accuracy_and_warns_near_chance(tmp_path, capsys, hit_rate, warned):
    manifest, predictions, accuracy = _scored(tmp_path, hit_rate)
    argv = ["label-issues", str(manifest), "--predictions", str(predictions), "--dry-run"]
    code, out, err = _run("curate", argv, capsys)
    assert code == 0, err
    said = " ".join((out + err).split())
    assert f"the folds' accuracy: {accuracy:.3f}" in said, said
    assert "always guessing the most common class: 0.500" in said
    assert ("near chance" in said) == warned, said
    code, out, err = _run("curate", [*argv, "--json"], capsys)
    data = json.loads(out)
    assert data["accuracy"] == pytest.approx(accuracy, abs=1e-4) and data["chance"] == 0.5
    assert set(data["fold_accuracy"]) == {"0", "1"} and bool(data["warnings"]) == warned


# -- item 10 --------------------------------------------------------------------------------------


def test_make_says_what_it_installs_before_pip_runs(tmp_path):
    """The Makefile's own venv recipe, run by make with a stand-in python that records its call."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho \"python $*\" >> {tmp_path / 'calls'}\necho PIP-RAN\n",
                      encoding="utf-8")
    python.chmod(0o755)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(["make", "-C", str(root), "venv", f"VENV={venv}"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    said = done.stdout
    assert "installing gleanset with its dev extra" in said and "several minutes" in said, said
    assert said.index("several minutes") < said.index("PIP-RAN"), said  # said before pip starts
    call = (tmp_path / "calls").read_text(encoding="utf-8")
    assert "-m pip install" in call and "--quiet" not in call, call  # pip's progress shows


# -- item 13 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["reddit", "search"])
def test_a_failed_network_run_leaves_nothing_beside_no_manifest(tmp_path, capsys, source):
    import socket

    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        argv = (["reddit", "r/Doom", "--after", "2020-07-01", "--before", "2020-07-02", "--arctic-url", url]
                if source == "reddit" else
                ["search", "castle", "--label", "castle", "--engine-url", url, "--api-interval", "0"])
        data = tmp_path / "data"
        data.mkdir()
        code, err = cli("harvest", [*argv, "--allow-private", "--retries", "0", "--timeout", "5",
                                    "-m", str(data / "m.csv")], capsys)
    one_line_error(code, err, 6, "failed")
    assert sorted(p.name for p in data.iterdir()) == []  # no lock, no sidecar declaring creator/author


# -- item 15: summaries in a narrow terminal --------------------------------------------------------


def test_a_narrow_summary_never_breaks_the_manifest_path(tmp_path, capsys, monkeypatch):
    from manifests.console import err_console

    media.write(tmp_path / "shots" / "cat" / "a.png", media.png(1, (16, 16)))
    manifest = tmp_path / "datasets_for_the_toontown_project" / "manifest_of_screenshots.csv"
    monkeypatch.setattr(err_console, "_width", 30)  # a narrow terminal
    code, err = cli("harvest", ["folder", str(tmp_path / "shots"), "-m", str(manifest)], capsys)
    assert code == 0, err
    assert f"manifest: {manifest}" in err.splitlines(), err  # whole, on a line of its own
    assert "harvest folder" in err
