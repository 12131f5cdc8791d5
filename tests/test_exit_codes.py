"""Exit codes against the README (issue 23): every error class of ``manifests.errors`` and every
``ExitStatus`` member, triggered through a real ``harvest``, ``curate`` or ``train`` command, exits
with the code the README's "Exit codes" table gives its name, and an error is one line on stderr
without a traceback.

The table is parsed from README.md, so a code changed in the code but not in the docs (or the other
way round) fails here. Most commands run in this process through their ``main(argv)``; the Ctrl-C case
runs a real process and sends it SIGINT.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import manifests
from curate import cli as curate_cli
from harvest import cli as harvest_cli
from manifests import errors, schema
from manifests.errors import ExitStatus, GleansetError
from tests.fixtures import media
from train import cli as train_cli

ROOT = Path(__file__).resolve().parents[1]
CLIS = {"harvest": harvest_cli, "curate": curate_cli, "train": train_cli}
# harvest reddit on the Arctic Shift route, answered (or not) by a local socket
REDDIT = ["reddit", "r/Doom", "--after", "2020-07-01", "--before", "2020-07-02", "--allow-private",
          "--retries", "0", "--timeout", "5"]
# Holds a manifest's lock from another process until killed.
HOLDER = """
import sys, time, manifests
with manifests.locked(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def readme_exit_codes() -> dict[str, int]:
    """The README's exit-code table (section "## Exit codes"): name -> code."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            table[cells[1]] = int(cells[0])
    return table


def cli(prog: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run a command in this process through its ``main(argv)``: exit code and stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        CLIS[prog].main(args)
    return int(exc.value.code or 0), capsys.readouterr().err


def small_manifest(root: Path) -> Path:
    """Six labelled ok rows whose image files do not exist."""
    path = root / "m.csv"
    manifests.write(manifests.from_records(
        [{schema.SHA256: f"{i:064x}", schema.SOURCE: "folder", schema.ORIGIN: f"o{i}", schema.STATUS: "ok",
          schema.LABEL: "ab"[i % 2], schema.PATH: f"images/{i}.png"} for i in range(6)]), path)
    return path


# -- one trigger per class or status: (exit code, stderr) ------------------------------------------


def ok(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    return cli("curate", ["stats", str(small_manifest(tmp))], capsys)


def error_status(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    return cli("curate", ["check", str(small_manifest(tmp))], capsys)  # the files are missing


def gleanset_error(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    # the out-of-fold training it starts (python -m train) fails on an option train does not have
    return cli("curate", ["label-issues", str(small_manifest(tmp)), "--folds", "2",
                          "--train-arg=--no-such-option"], capsys)


def usage_error(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    return cli("harvest", ["frames", str(tmp / "clip.mp4"), "--every", "4", "--every-seconds", "1",
                           "-m", str(tmp / "m.csv")], capsys)


def partial(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    media.write(tmp / "shots" / "cat" / "good.png", media.png(1, (32, 32)))
    media.write(tmp / "shots" / "cat" / "cut.png", media.png(2, (32, 32))[:60])  # truncated
    return cli("harvest", ["folder", str(tmp / "shots"), "-m", str(tmp / "m.csv"), "--strict", "--json"],
               capsys)


def input_error(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    return cli("harvest", ["folder", str(tmp / "no-such-folder"), "-m", str(tmp / "m.csv")], capsys)


def manifest_error(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    people = tmp / "people.csv"
    people.write_text("name,age\nann,3\n", encoding="utf-8")
    return cli("curate", ["stats", str(people)], capsys)


def lock_timeout(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    manifest = small_manifest(tmp)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(manifest)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("GLEANSET_LOCK_TIMEOUT", "0.2")
        return cli("curate", ["split", str(manifest)], capsys)
    finally:
        holder.kill()
        holder.wait()


def network_error(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        return cli("harvest", [*REDDIT, "--arctic-url", url, "-m", str(tmp / "m.csv")], capsys)


def missing_tool(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    (tmp / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp / "bin"))  # a PATH without ffmpeg
    return cli("harvest", ["frames", str(tmp / "clip.mp4"), "-m", str(tmp / "m.csv")], capsys)


def _as_from_a_terminal() -> None:
    """Ctrl-C as a terminal delivers it: a pytest-xdist worker may ignore SIGINT, and a child inherits
    that, so Python would install no KeyboardInterrupt handler and the command would not hear it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted(tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    # a server that takes the connection and never answers; Ctrl-C once the command is waiting on it
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.settimeout(60)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        # a read timeout far beyond the test's: on a loaded machine only the Ctrl-C ends the wait
        patient = [*REDDIT[:REDDIT.index("--timeout")], "--timeout", "600"]
        child = subprocess.Popen([sys.executable, "-c", "import sys; from harvest.cli import main; "
                                  "main(sys.argv[1:])", *patient, "--arctic-url", url,
                                  "-m", str(tmp / "m.csv")], stderr=subprocess.PIPE, text=True,
                                 preexec_fn=_as_from_a_terminal)
        try:
            conn, _ = server.accept()
            conn.settimeout(60)
            request = b""
            while b"\r\n\r\n" not in request:  # the whole request is in: the command waits for the answer
                chunk = conn.recv(65536)
                if not chunk:
                    break
                request += chunk
            child.send_signal(signal.SIGINT)
            err = child.communicate(timeout=60)[1]
            conn.close()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    return child.returncode, err


Trigger = Callable[..., tuple[int, str]]
# what is triggered -> (its name in the README's table, how, a piece of its error line or None when
# the command ends without an error line)
CASES: dict[str, tuple[str, Trigger, str | None]] = {
    "ExitStatus.OK": ("ok", ok, None),
    "ExitStatus.ERROR": ("error", error_status, None),
    "GleansetError": ("error", gleanset_error, "train --folds failed"),
    "UsageError": ("usage", usage_error, "not both"),
    "ExitStatus.PARTIAL": ("partial", partial, None),
    "InputError": ("input", input_error, "is not a folder"),
    "ManifestError": ("input", manifest_error, "is not a gleanset manifest"),
    "LockTimeout": ("locked", lock_timeout, "is locked by another command"),
    "NetworkError": ("network", network_error, "/api/posts/search failed"),
    "MissingToolError": ("missing tool", missing_tool, "ffmpeg is not installed"),
    "ExitStatus.INTERRUPTED": ("interrupted", interrupted, "interrupted"),
}


@pytest.mark.parametrize("what", sorted(CASES))
def test_exit_code_is_the_readme_code(what: str, tmp_path: Path, capsys, monkeypatch) -> None:
    name, trigger, message = CASES[what]
    code, err = trigger(tmp_path, capsys, monkeypatch)
    assert code == readme_exit_codes()[name], f"{what}: exit {code}, the README says {name} is " \
                                              f"{readme_exit_codes()[name]}; stderr: {err[-3000:]}"
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    if message is None:
        assert lines == [], err
        return
    assert len(lines) == 1 and message in lines[0], err
    assert err.rstrip().splitlines()[-1] == lines[0], "the error is the command's last word"


def test_the_cases_cover_every_error_class_and_status_and_the_table_names_them() -> None:
    table = readme_exit_codes()
    # the README's names are ExitStatus's members, with the same codes
    assert {name.upper().replace(" ", "_"): code for name, code in table.items()} == \
        {status.name: int(status) for status in ExitStatus}
    classes = {c.__name__ for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, GleansetError)}
    assert classes - set(CASES) == set(), "an error class without an exit-code case"
    statuses = {ExitStatus(table[name]).name for name, _, _ in CASES.values()}
    assert statuses == {status.name for status in ExitStatus}, "an exit status without a case"
