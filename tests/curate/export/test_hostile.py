"""``curate export`` on hostile input: a crafted state file, manifest values that would name paths
outside the export or the dataset, text that would inject into CSVs or ATTRIBUTION.md, a kill."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import manifests
from curate import cli
from manifests import schema
from tests.curate.conftest import Dataset
from tests.fixtures.media import png


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    captured = capsys.readouterr()
    return int(exc.value.code), captured.err + captured.out


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    (victim / "deep").mkdir(parents=True)
    (victim / "deep" / "precious.txt").write_text("keep me")
    return victim


@pytest.mark.parametrize("key", ["files", "meta"])
def test_a_crafted_state_file_cannot_delete_outside_the_export(dataset: Dataset, tmp_path: Path, capsys,
                                                               key: str) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for rel in ("../victim/deep/precious.txt", str(victim / "deep" / "precious.txt")):
        entries = {rel: "0" * 64} if key == "files" else [rel]
        (out / ".gleanset-export.json").write_text(json.dumps({"key": {}, key: entries}))
        code, err = _run(["export", str(dataset.manifest), str(out)], capsys)
        assert code == 4 and "not a file inside" in err and "Traceback" not in err
        assert (victim / "deep" / "precious.txt").read_text() == "keep me"
    assert list(out.iterdir()) == [out / ".gleanset-export.json"]  # nothing written either


def test_stale_clean_up_stops_at_the_export_folder(dataset: Dataset, tmp_path: Path, capsys) -> None:
    from curate.export.files import remove_stale

    victim = _victim(tmp_path)
    (victim / "deep" / "precious.txt").unlink()  # an empty folder outside: not ours to remove
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(victim / "deep")
    assert remove_stale(out, {"../victim/deep/x.jpg": "", "link/x.jpg": ""}, {}) == 0
    assert (victim / "deep").is_dir()


def _set(dataset: Dataset, column: str, value: str, rows: int = 1) -> None:
    with manifests.update(dataset.manifest, command="test") as tx:
        ok = tx.frame.index[tx.frame[schema.STATUS] == schema.OK][:rows]
        tx.frame.loc[ok, column] = value


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("fmt", ["imagefolder", "webdataset", "hf"])
@pytest.mark.parametrize("split", ["../../X", "/abs/X", "a/b", "..", "tr\nain"])
def test_a_split_that_is_not_one_folder_name_is_refused(dataset: Dataset, tmp_path: Path, capsys,
                                                       fmt: str, split: str) -> None:
    _set(dataset, schema.SPLIT, split.replace("/abs", str(tmp_path / "abs")))
    before = _files(tmp_path)
    code, err = _run(["export", str(dataset.manifest), str(tmp_path / "a" / "b" / "out"), "-f", fmt], capsys)
    assert code == 4 and "cannot be a folder name" in err and "Traceback" not in err
    assert _files(tmp_path) == before and not (tmp_path / "X").exists() and not (tmp_path / "abs").exists()


def test_unsplit_must_be_one_folder_name(dataset: Dataset, tmp_path: Path, capsys) -> None:
    code, err = _run(["export", str(dataset.manifest), str(tmp_path / "out"), "--unsplit", "../up"], capsys)
    assert code == 2 and "cannot be a folder name" in err


@pytest.mark.parametrize("where", ["relative", "absolute", "symlink"])
def test_a_path_outside_the_dataset_is_not_exported(dataset: Dataset, tmp_path: Path, capsys,
                                                    where: str) -> None:
    secret = tmp_path / "secret" / "id_rsa"
    secret.parent.mkdir()
    secret.write_bytes(b"PRIVATE KEY")
    path = {"relative": "../secret/id_rsa", "absolute": str(secret), "symlink": "images/link.jpg"}[where]
    (dataset.root / "images" / "link.jpg").symlink_to(secret)
    _set(dataset, schema.PATH, path)
    _set(dataset, schema.SHA256, hashlib.sha256(b"PRIVATE KEY").hexdigest())  # even with its sha256
    for fmt in ("imagefolder", "webdataset"):
        out = tmp_path / f"out-{where}-{fmt}"
        code, err = _run(["export", str(dataset.manifest), str(out), "-f", fmt, "--copy"], capsys)
        assert code == 4 and "outside the dataset folder" in err and "Traceback" not in err
        assert not out.exists() or not any(b"PRIVATE" in p.read_bytes() for p in _files(out))


def test_a_file_imported_in_place_is_exported_when_its_sha256_holds(dataset: Dataset, tmp_path: Path,
                                                                    capsys) -> None:
    elsewhere = tmp_path / "photos" / "cat.png"  # harvest folder without --copy: path = origin
    elsewhere.parent.mkdir()
    data = png(7, (40, 30))
    elsewhere.write_bytes(data)
    with manifests.update(dataset.manifest, command="test") as tx:
        first = tx.frame.index[tx.frame[schema.STATUS] == schema.OK][0]
        tx.frame.loc[first, [schema.PATH, schema.ORIGIN, schema.SHA256]] = [
            str(elsewhere), str(elsewhere), hashlib.sha256(data).hexdigest()]
    code, err = _run(["export", str(dataset.manifest), str(tmp_path / "ok"), "--copy"], capsys)
    assert code == 0, err
    assert any(p.read_bytes() == data for p in _files(tmp_path / "ok"))


@pytest.mark.parametrize("fmt", ["imagefolder", "webdataset"])
@pytest.mark.parametrize("resize", [None, 16])
def test_a_file_that_is_not_its_sha256_is_refused(dataset: Dataset, tmp_path: Path, capsys, fmt: str,
                                                  resize: int | None) -> None:
    frame = manifests.read(dataset.manifest)
    victim = dataset.root / frame.loc[frame[schema.STATUS] == schema.OK, schema.PATH].iloc[0]
    swapped = png(999, (50, 50))
    victim.write_bytes(swapped)  # the file was swapped after it was recorded
    out = tmp_path / "out"
    args = ["export", str(dataset.manifest), str(out), "-f", fmt, "--copy"]
    code, err = _run(args + (["--resize", str(resize)] if resize else []), capsys)
    assert code == 3 and "not the manifest's" in err and "Traceback" not in err
    if fmt == "imagefolder":
        assert not any(p.read_bytes() == swapped for p in _files(out))
        assert not list(out.rglob("*.part"))
    else:
        import webdataset as wds
        shards = sorted(str(p) for p in out.rglob("*.tar"))
        n = sum(1 for _ in wds.WebDataset(shards, shardshuffle=False))
        assert n == sum(dataset.ok_counts.values()) - 1


class Killed(BaseException):
    """What a kill -9 does to the export: it stops there, no clean-up runs."""


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".gleanset-export.json"}


@pytest.mark.parametrize("fmt", ["imagefolder", "webdataset"])
def test_a_killed_first_export_is_resumed_by_its_rerun(dataset: Dataset, tmp_path: Path, capsys,
                                                       monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    from curate.export import files, formats

    calls = []
    real_place, real_bytes = files.place, formats._image_bytes

    def dying_place(src: Path, dst: Path, *args: object) -> str:
        calls.append(dst)
        if len(calls) > 6:
            dst.with_name(dst.name + ".part").write_bytes(b"half")
            raise Killed
        return real_place(src, dst, *args)

    def dying_bytes(*args: object) -> tuple[str, bytes]:
        calls.append(args)
        if len(calls) > 6:
            raise Killed
        return real_bytes(*args)

    monkeypatch.setattr(formats, "place", dying_place)
    monkeypatch.setattr(formats, "_image_bytes", dying_bytes)
    out = tmp_path / "out"
    args = ["export", str(dataset.manifest), str(out), "-f", fmt, "--copy", "--shard-size", "4"]
    with pytest.raises(Killed):
        cli.main(args)
    assert list(out.rglob("*.part"))  # what the kill left behind
    monkeypatch.undo()
    code, err = _run(args, capsys)
    assert code == 0, err
    assert not list(out.rglob("*.part")) and not list(out.rglob("*.tmp"))
    _run([*args[:2], str(tmp_path / "clean"), *args[3:]], capsys)
    assert _tree(out) == _tree(tmp_path / "clean")


FORMULAS = ("=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd", "-2+3", "@SUM(A1)", "\tx", "\r=x")


@pytest.mark.parametrize("fmt", ["csv", "fastai"])
def test_export_csvs_are_safe_in_a_spreadsheet_and_cannot_be_forged(dataset: Dataset, tmp_path: Path,
                                                                    capsys, fmt: str) -> None:
    with manifests.update(dataset.manifest, command="test") as tx:
        ok = tx.frame.index[tx.frame[schema.STATUS] == schema.OK]
        for n, text in enumerate(FORMULAS):
            tx.frame.loc[ok[n], [schema.LABEL, schema.TITLE]] = [text, text]
        tx.frame.loc[ok[6], schema.LABEL] = "-1"  # a plain number stays as it is
        tx.frame.loc[ok[7], schema.TITLE] = "t\rimages/evil.jpg,evil,train"  # a bare CR: a forged row?
        tx.frame.loc[ok[8], schema.TITLE] = "t\nimages/evil.jpg,evil,train"
    out = tmp_path / "out"
    code, err = _run(["export", str(dataset.manifest), str(out), "-f", fmt], capsys)
    assert code == 0, err
    exported = sum(dataset.ok_counts.values())
    tables = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(out.glob("*.csv"))]
    main = pd.concat([t for t in tables if {"path", "fname"} & set(t.columns)])
    assert len(main) == exported and "evil" not in set(main["label"])  # no forged row
    for table in tables:
        for col in table.columns:
            cells = table[col].tolist()
            assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))
                        or (c.startswith("-") and c != "-1")], (col, cells)
    labels = set(main["label"])
    assert {"'" + t for t in FORMULAS if t != "-2+3"} | {"'-2+3", "-1"} <= labels


def test_attribution_is_plain_text_with_http_links_only(dataset: Dataset, tmp_path: Path, capsys) -> None:
    import markdown_it

    hostile = {schema.TITLE: "<img src=x onerror=alert(1)><script>alert(2)</script>",
               schema.CREATOR: "[click](javascript:alert(3)) **bold** &lt;b&gt;",
               schema.CREATOR_URL: "javascript:alert(4)",
               schema.LICENSE: "by\r| forged.jpg | row | x | y |\nmore",
               schema.LICENSE_URL: "https://example.org/a b)<x>|y",
               schema.PAGE_URL: "data:text/html,<b>x</b>"}
    with manifests.update(dataset.manifest, command="test") as tx:
        search = tx.frame.index[(tx.frame[schema.SOURCE] == "search:openverse")
                                & (tx.frame[schema.STATUS] == schema.OK)]
        for col, value in hostile.items():
            tx.frame.loc[search[0], col] = value
    out = tmp_path / "out"
    code, err = _run(["export", str(dataset.manifest), str(out)], capsys)
    assert code == 0, err
    text = (out / "ATTRIBUTION.md").read_bytes().decode()
    assert "\r" not in text and len(text.split("\n")) == 7 + len(search)  # no forged row
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    assert "<img" not in html and "<script" not in html and "<b>" not in html and "<strong>" not in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://") for h in hrefs), hrefs
    assert "https://example.org/a%20b%29%3Cx%3E%7Cy" in hrefs
    assert html.count("<tr>") == 1 + len(search)
