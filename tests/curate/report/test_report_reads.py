"""``curate report`` as people read it (issue 26, items 6 and 15), measured in a real headless Chromium.

One generated manifest whose ``scene`` groups are nested in the labels (each scene holds one label, as
a film's shots do) while its ``street`` groups span them, six duplicate rows, long file names, and
image files deleted after the harvest. The page ``curate report`` writes is loaded by Chromium with a
small script that reads what Chromium laid out and rendered: which heatmap cells carry the red "thin"
outline, where each caption's lines break, and the page's text. The verdicts:

- no zero by construction is outlined red (the scenes' other-label cells), while a real thin cell of
  a street that spans labels still is;
- a list cut short says how many more there are;
- no file name in the contact sheet breaks inside a word (only after ``/ _ - .``);
- the page says how many ok rows have no image file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import manifests
from curate import cli
from manifests import schema
from tests.fixtures import media
from tests.fixtures.chromium import find_chromium, probe_verdict

pytestmark = pytest.mark.slow

# Runs in Chromium after layout; writes its findings into <pre id=verdict>.
PROBE = r"""<script>
const red = [], nested = [], midword = [];
for (const td of document.querySelectorAll('#groups td')) {
  const s = getComputedStyle(td);
  if (s.outlineStyle !== 'none' && s.outlineColor === 'rgb(221, 0, 0)')
    red.push(td.closest('table').previousElementSibling.previousElementSibling.textContent
             + ':' + td.closest('tr').firstElementChild.textContent + ':' + td.cellIndex);
  if (td.classList.contains('nested')) nested.push(td.textContent);
}
for (const cap of document.querySelectorAll('#samples figcaption')) {
  let top = null, before = '';
  const walk = document.createTreeWalker(cap, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
      const box = range.getClientRects()[0]; if (!box) continue;
      if (top !== null && box.top > top + 2 && !/[\s\/_.\-]/.test(before)) midword.push(cap.textContent);
      top = box.top; before = node.data[i];
    }
  }
}
const pre = document.createElement('pre'); pre.id = 'verdict';
pre.textContent = JSON.stringify({red, nested: nested.length, midword, text: document.body.innerText});
document.body.appendChild(pre);
</script>"""

LONG = "screenshot_toontown_central_bossbot_flunky"


def make_manifest(root: Path) -> Path:
    """Scenes s1-s3 hold label a, s4-s6 label b (6 rows each); street x spans both labels, street y
    has one row of b (a thin cell); 6 duplicates; the files of 4 ok rows deleted afterwards."""
    records, n = [], 0

    def add(label: str, scene: str, street: str, status: str = schema.OK) -> None:
        nonlocal n
        rel = f"images/{LONG}_{n:04d}.png"
        data = media.png(n, (16, 16))
        media.write(root / rel, data)
        records.append({schema.SHA256: f"{n:064x}", schema.SOURCE: "folder", schema.ORIGIN: rel,
                        schema.STATUS: status, schema.LABEL: label, schema.PATH: rel, "scene": scene,
                        "street": street, schema.SPLIT: "train"})
        n += 1

    for k, label in enumerate("ab"):
        for scene in range(3):
            for _ in range(6):
                add(label, f"s{3 * k + scene + 1}", "x")
    add("b", "s6", "y")
    for _ in range(6):
        add("a", "s1", "x", schema.DUPLICATE)
    path = root / "manifest.csv"
    manifests.write(manifests.from_records(records), path)
    manifests.declare_groups(path, ["scene", "street"], "test")
    for rel in [r[schema.PATH] for r in records if r[schema.STATUS] == schema.OK][:4]:
        (root / rel).unlink()
    return path


def test_the_report_reads_right_in_chromium(tmp_path, capsys):
    browser = find_chromium()
    manifest = make_manifest(tmp_path / "data")
    out = tmp_path / "data" / "report.html"
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", str(manifest), "-o", str(out), "--seed", "1"])
    assert exc.value.code == 0
    said = capsys.readouterr()
    assert "(4 of them with no image file)" in said.out + said.err
    verdict = probe_verdict(browser, out, PROBE, tmp_path, window="900,1600")
    # 6 scenes x 1 other label: zeros by construction, shown apart, never red; street y's b cell (1
    # row) and its empty a cell are real thin cells
    assert verdict["nested"] == 6
    assert sorted(verdict["red"]) == ["label x street:a:2", "label x street:b:2"], verdict["red"]
    text = " ".join(verdict["text"].split())
    assert "duplicate: 6 (set aside by a curate stage)" in text
    assert "... and 1 more (status=duplicate in the manifest)." in text  # 5 examples shown of 6
    assert "4 of the 37 ok rows have no image file" in text
    assert verdict["midword"] == [], verdict["midword"]


def test_the_balance_plot_marks_zeros_by_construction_apart(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    manifest = make_manifest(tmp_path / "data")
    plots = {}
    for by in ("label,scene", "label,street"):
        plots[by] = tmp_path / f"{by.replace(',', '-')}.png"
        with pytest.raises(SystemExit) as exc:
            cli.main(["balance", str(manifest), "--by", by, "--plot", str(plots[by]), "--dry-run"])
        assert exc.value.code == 0, capsys.readouterr().err

    def red_pixels(path: Path) -> int:
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
        return int(((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)).sum())

    # scenes nested in labels: every zero is by construction, nothing is outlined red
    assert red_pixels(plots["label,scene"]) == 0
    assert red_pixels(plots["label,street"]) > 100  # street y's thin cells still are
