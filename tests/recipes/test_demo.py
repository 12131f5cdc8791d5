"""``make demo``'s commands exist: every step's command and each of its options are in that command's
--help, so a renamed option breaks this fast test and not only the five-minute demo."""

from __future__ import annotations

import re
from pathlib import Path

import manifests
from tests.fixtures.demo_run import Step, review_command, steps, table

SUBCOMMANDS = {"harvest": {"folder", "frames", "reddit", "search"},
               "curate": {"stats", "dedupe", "balance", "split", "check", "report", "export", "card"},
               "train": {"run", "predict", "eval"}}


def test_every_demo_option_is_in_its_commands_help(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # one option per line in rich's help panel
    planned = steps(tmp_path / "demo", "http://127.0.0.1:9", ["--mirror=https://i.redd.it/=http://x/"])
    assert [s.argv[:2] for s in planned][:4] == [["harvest", "folder"], ["harvest", "frames"],
                                                 ["harvest", "reddit"], ["harvest", "search"]]
    for step in planned:
        script, command = step.argv[0], step.argv[1]
        command = command if command in SUBCOMMANDS[script] else "run"  # `train MANIFEST` is `train run`
        shown = cli(script, command, "--help").out
        for option in (a.split("=", 1)[0] for a in step.argv if a.startswith("--")):
            assert re.search(rf"{option}\b", shown), f"{script} {command} has no {option}"


def test_the_closing_table_names_each_step_and_where_to_look() -> None:
    done = [(Step("curate split", ["curate"], lambda: ""), "144 train / 32 val / 32 test", 7.25),
            (Step("train", ["train"], lambda: "", where="demo/runs/streets/review.html"), "test acc", 99.0)]
    lines = table(done).splitlines()
    assert lines[1].split() == ["curate", "split", "7.2", "144", "train", "/", "32", "val", "/", "32", "test"]
    assert lines[-1].strip() == "-> demo/runs/streets/review.html"


def test_the_review_command_the_demo_prints_runs(tmp_path: Path, cli) -> None:
    """The printed command's options exist, and it opens the demo's folders (``--check``: not served)."""
    from tests.curate.conftest import make_dataset

    argv = review_command(tmp_path / "demo")
    assert argv[:3] == ["curate", "review", "demo/streets/manifest.csv"]
    data = make_dataset(tmp_path / "demo" / "streets")
    run = tmp_path / "demo" / "runs" / "streets"
    run.mkdir(parents=True)
    (run / "predictions.csv").write_text("sha256,prediction,confidence\n")
    shown = cli(argv[0], *[a.replace("demo/", f"{tmp_path}/demo/") for a in argv[1:]], "--check", "--json")
    assert shown.json()["rows"] == len(manifests.read(data.manifest))
