"""``kgrec refit RUN``: a finished run's model and settings trained again on its training and
validation pairs together, for the epochs early stopping chose, then tested once
(:mod:`recommend.refit`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kgrec.cli.console import err, progress, run_errors
from kgrec.cli.train import _epoch_line, _report, stopped_by_ctrl_c


def refit(
    run: Annotated[str, typer.Argument(help="The finished run: path, name, prefix or 'latest'.")],
    epochs: Annotated[
        int | None, typer.Option(help="Epochs to train (default: the run's best epoch).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    threads: Annotated[
        int | None, typer.Option(help="torch CPU threads (default: torch's choice).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final test metrics as one JSON object.")
    ] = False,
) -> None:
    """Train RUN's model again, with its settings and seed, on its training and validation
    pairs for the epoch count its validation chose, and test the last weights once.

    The new run keeps RUN's test pairs and the items their ranking leaves out, so
    `kgrec compare RUN NEW` pairs the two user by user. Interrupted, it continues with
    `kgrec train --resume NEW`.
    """
    from kgrec.settings import get_settings
    from recommend.refit import refit_init, start_refit
    from recommend.runs import find_run
    from recommend.train import train_run

    s = get_settings()
    with run_errors():
        parent = find_run(run, s.runs_dir)
        new = start_refit(parent, s.runs_dir, epochs)
        init = refit_init(parent, new)
        total = int(new.config["train_config"]["epochs"])
        err.print(f"run {new.path}: {parent.name} refitted on its training and validation "
                  f"pairs for {total} epochs", highlight=False)  # fmt: skip
        with progress() as bar:
            task = bar.add_task(f"refit {new.config['model']}", total=total)

            def on_epoch(r: dict[str, Any]) -> None:
                bar.update(task, completed=r["epoch"])
                bar.console.print(_epoch_line(r), highlight=False)

            overrides: dict[str, Any] = {"device": device}
            if threads:
                overrides["threads"] = threads
            with stopped_by_ctrl_c("train", new.name):
                res = train_run(new, on_epoch=on_epoch, overrides=overrides, init=init)
    _report(res, new.name, as_json)


def register(app: typer.Typer) -> None:
    """Add ``refit`` to the ``kgrec`` app."""
    app.command("refit")(refit)
