"""The export's licence filter (``--license-allow``, ``--no-noncommercial``) leaves out exactly the rows
whose licence it names, says how many, and lets rows without a licence pass; ``curate card`` writes the
card alone and ``curate report`` links to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import manifests
from curate.card.licenses import LicenseFilter, code_of, hf_id, normalize
from manifests import UsageError, schema
from tests.curate.card.conftest import Demo, run


def exported_shas(out: Path) -> set[str]:
    frames = [pd.read_csv(f) for f in sorted((out / "records").glob("*.csv"))]
    return set(pd.concat(frames)[schema.SHA256])


def ok_rows(manifest: Path) -> pd.DataFrame:
    frame = manifests.read(manifest)
    return frame[(frame[schema.STATUS] == "ok") & frame[schema.SPLIT].notna()]


def test_license_allow_excludes_exactly_the_rows_it_names(demo: Demo, tmp_path: Path, capsys) -> None:
    from curate.cli import main as curate

    out = tmp_path / "by-sa"
    capsys.readouterr()
    run(curate, ["export", str(demo.manifest), str(out), "--license-allow", "by,by-sa"])
    said = capsys.readouterr().out
    rows = ok_rows(demo.manifest)
    cc0 = rows[rows[schema.LICENSE].fillna("").str.startswith("cc0")]
    assert len(cc0) > 0 and rows[schema.LICENSE].isna().sum() > 0
    assert exported_shas(out) == set(rows[schema.SHA256]) - set(cc0[schema.SHA256])  # no licence: passes
    assert f"{len(cc0)} rows left out by licence: cc0 1.0 {len(cc0)}" in said
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"`--license-allow by,by-sa`; rows excluded: {len(cc0)} (cc0 1.0: {len(cc0)})" in card
    assert "cc0" not in card.split("## Licences")[1].split("- ")[0]  # not in the licence table


def test_no_noncommercial_leaves_out_the_nc_rows_only(demo: Demo, tmp_path: Path) -> None:
    from curate.cli import main as curate

    root = tmp_path / "data"
    shutil.copytree(demo.root, root, ignore=shutil.ignore_patterns("*.lock"))
    manifest = root / "manifest.csv"
    with manifests.update(manifest, command="edit licences") as tx:  # three rows under by-nc
        search = tx.frame.index[tx.frame[schema.LICENSE].notna() & (tx.frame[schema.STATUS] == "ok")
                                & tx.frame[schema.SPLIT].notna()][:3]
        tx.frame.loc[search, schema.LICENSE] = ["by-nc 2.0", "by-nc-sa 4.0", "CC BY-NC-ND 4.0"]
    nc = set(manifests.read(manifest).loc[search, schema.SHA256])
    run(curate, ["export", str(manifest), str(tmp_path / "out"), "--no-noncommercial"])
    assert exported_shas(tmp_path / "out") == set(ok_rows(manifest)[schema.SHA256]) - nc
    run(curate, ["export", str(manifest), str(tmp_path / "all")])
    card = (tmp_path / "all" / "README.md").read_text(encoding="utf-8")
    n = len(ok_rows(manifest))
    assert f"Non-commercial licences: {3 / n:.1%} of the images; no-derivatives licences: {1 / n:.1%}" in card


def test_licence_codes_and_names() -> None:
    assert [code_of(x) for x in ("by-sa 4.0", "CC BY-NC 2.0", "cc0 1.0", "CC0", "pdm")] == [
        "by-sa", "by-nc", "cc0", "cc0", "pdm"]
    assert normalize("CC BY-SA 4.0") == "by-sa 4.0" and hf_id("by-sa 4.0") == "cc-by-sa-4.0"
    assert hf_id("cc0 1.0") == "cc0-1.0" and hf_id("pdm") is None
    assert not LicenseFilter(no_noncommercial=True).keeps("by-nc-sa 4.0")
    assert LicenseFilter(allow=("cc0",)).keeps("(none)")
    with pytest.raises(UsageError, match=r"unknown licence code 'by-4\.0'"):
        LicenseFilter(allow=("by-4.0",))


def test_curate_card_writes_the_card_alone_and_the_report_links_it(demo: Demo, tmp_path: Path) -> None:
    from curate.cli import main as curate

    card = tmp_path / "docs" / "CARD.md"
    run(curate, ["card", str(demo.manifest), "-o", str(card), "--name", "Cogs & castles"])
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\npretty_name: Cogs & castles\n") and "configs" not in text.split("---")[1]
    assert f"of {len(ok_rows(demo.manifest))} images" in text
    page = tmp_path / "report.html"
    run(curate, ["report", str(demo.manifest), "-o", str(page), "--card", str(card), "--per-cell", "0",
                 "--clusters", "0", "--no-cache"])
    assert "Dataset card: <a href='docs/CARD.md'>CARD.md</a>" in page.read_text(encoding="utf-8")
