"""Habits every command line shares: the default manifest, human sizes, --version, --debug, flags shown
as flags, and --help that imports none of the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import manifests
from curate import cli as curate_cli
from harvest import cli as harvest_cli
from manifests import ExitStatus, UsageError, schema
from manifests.cliargs import exit_codes, format_size, parse_size
from tests.fixtures import media
from train import cli as train_cli

CLIS = {"harvest": harvest_cli, "curate": curate_cli, "train": train_cli}
HEAVY = ("torch", "torchvision", "pandas", "numpy", "PIL", "matplotlib", "cleanlab", "dask",
         "sklearn", "scipy", "requests", "imagehash")
ROOT = Path(__file__).resolve().parents[2]


def run(prog: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        CLIS[prog].main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.mark.parametrize("text, n", [("256MB", 256_000_000), ("256MiB", 256 * 2**20), ("1.5GiB", 3 * 2**29),
                                     ("500k", 500_000), ("1024", 1024), ("10 b", 10), (4096, 4096)])
def test_sizes_in_human_units(text: str | int, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("bad", ["", "MB", "12 parsecs", "-5MB", "1e3"])
def test_bad_sizes_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="not a size"):
        parse_size(bad)


def test_sizes_print_back_exactly() -> None:
    assert format_size(256 * 2**20) == "256MiB" and format_size(2_000_000) == "2MB"
    assert format_size(1000) == "1kB" and format_size(1001) == "1001"


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_version_help_flags_and_exit_codes(prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(prog, ["--version"], capsys)
    assert code == 0 and out.startswith(f"{prog} (gleanset) ")
    code, out, _ = run(prog, ["--help"], capsys)
    assert code == 0 and "--debug" in out and "--version" in out and "<bool>" not in out
    assert "4 input" in out and "7 missing tool" in out  # the one exit-code table
    for command in CLIS[prog].app.registered_commands:
        code, out, _ = run(prog, [command.name, "--help"], capsys)
        assert code == 0 and "<bool>" not in out, f"{prog} {command.name}"
        if "--json" in out:
            assert "--json " in out  # a flag, with no value after it


def test_exit_code_table_is_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for status in ExitStatus:
        assert f"| {int(status)} |" in readme, status
    assert exit_codes().startswith("Exit codes: 0 ok, 1 error, 2 usage, 3 partial")


def test_help_imports_no_heavy_library() -> None:
    code = ("import sys\nfrom harvest.cli import main as h\nfrom curate.cli import main as c\n"
            "from train.cli import main as t\n"
            "for m in (h, c, t):\n"
            "    try:\n        m(['--help'])\n    except SystemExit:\n        pass\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip().splitlines()[-1] == "[]"


def write_manifest(folder: Path, n: int = 4) -> Path:
    rows = []
    for i in range(n):
        path = folder / "images" / f"{i}.png"
        media.write(path, media.png(i, (16, 16)))
        rows.append({schema.SHA256: f"{i:064x}", schema.PATH: f"images/{i}.png", schema.SOURCE: "folder",
                     schema.ORIGIN: str(path), schema.LABEL: "ab"[i % 2], schema.STATUS: schema.OK})
    manifests.write(manifests.from_records(rows), folder / "manifest.csv")
    return folder / "manifest.csv"


def test_curate_defaults_to_manifest_csv_here_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("curate", ["stats"], capsys)
    assert code == ExitStatus.INPUT and "manifest.csv does not exist in the current folder" in err
    write_manifest(tmp_path)
    code, out, err = run("curate", ["stats", "--json"], capsys)
    assert code == 0 and json.loads(out)["rows"] == 4 and "manifest: manifest.csv" in err
    code, out, err = run("curate", ["balance", "--by", "label", "--dry-run", "--json"], capsys)
    assert code == 0 and "manifest: manifest.csv" in err
    code, _, err = run("curate", ["split", "--random", "--ratios", "0.5,0.5"], capsys)
    assert code == 0 and "manifest: manifest.csv" in err
    assert set(manifests.read(tmp_path / "manifest.csv")[schema.SPLIT]) == {"train", "val"}


def test_max_bytes_takes_human_units(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "shots" / "cat"
    media.write(root / "big.png", media.png(1, (64, 64)))
    manifest = tmp_path / "m.csv"
    code, out, _ = run("harvest", ["folder", str(tmp_path / "shots"), "-m", str(manifest), "--max-bytes",
                                   "100B", "--json"], capsys)
    assert code == 0 and json.loads(out)["statuses"] == {"too_large": 1}
    code, _, err = run("harvest", ["folder", str(tmp_path / "shots"), "-m", str(manifest), "--max-bytes",
                                   "lots"], capsys)
    assert code == ExitStatus.USAGE and "not a size" in err and "Traceback" not in err
