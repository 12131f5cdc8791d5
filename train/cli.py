"""``train``: fine-tune a torchvision model from a curated manifest (issue 7 builds the trainer)."""

from __future__ import annotations

import typer

from manifests import GleansetError
from manifests.console import run_app

app = typer.Typer(name="train", rich_markup_mode="rich",
                  help="Fine-tune a torchvision model from a manifest's splits.")


@app.command()
def run() -> None:
    """Train a model (not built yet)."""
    raise GleansetError("the trainer is not built yet; it arrives with the train issue")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``train`` console script."""
    raise SystemExit(run_app(app, argv, "train"))
