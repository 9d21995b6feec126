"""``kgrec train`` / ``evaluate`` / ``runs`` as a user runs them, on the synthetic graph."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.test_cli import kgrec


def test_train_evaluate_runs(tmp_path: Path) -> None:
    kgrec(tmp_path, "ingest", "synthetic", "--users", "60", "--videos", "40", "--graph", "syn")
    try:
        proc = kgrec(
            tmp_path, "train", "--model", "lightgcn", "--dataset", "syn", "--epochs", "3",
            "--seed", "1", "--threads", "1", "--json",
        )  # fmt: skip
        result = json.loads(proc.stdout)  # one JSON object on stdout, nothing else
        for key in ("recall@20", "ndcg@20", "precision@10", "recall@10", "ndcg@10"):
            assert 0.0 <= result[key] <= 1.0, key
        again = json.loads(kgrec(tmp_path, "evaluate", "latest", "--json").stdout)
        assert again["recall@20"] == result["recall@20"]  # the run reproduces its test score
        listed = json.loads(kgrec(tmp_path, "runs", "--json").stdout)
        assert len(listed) == 1 and "lightgcn" in json.dumps(listed[0])
        bad = kgrec(tmp_path, "train", "--model", "nope", "--dataset", "syn", ok=False)
        assert bad.returncode != 0 and "nope" in bad.stderr
    finally:
        kgrec(tmp_path, "db", "stop")


def _option_help(text: str) -> dict[str, str]:
    """``--option -> its help text`` from typer's boxed help, wrapped lines joined."""
    rows: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        cells = line.strip().strip("│").strip()
        if not cells or line.strip()[:1] in ("╭", "╰"):
            continue
        m = re.match(r"(--[\w-]+)(?:\s+--[\w-]+)?\s+<[^>]+>\s+(.*)$", cells)
        if m:
            current = m.group(1)
            rows[current] = m.group(2)
        elif current is not None:
            rows[current] += " " + cells
    return {k: " ".join(v.split()) for k, v in rows.items()}


def test_train_help_says_where_defaults_come_from(tmp_path: Path) -> None:
    """The help was built with "[default: ...]", which rich took for markup: "Most epochs ."."""
    from dataclasses import fields

    from recommend.models import REGISTRY, ModelConfig
    from recommend.train import TrainConfig

    text = kgrec(tmp_path, "train", "--help").stdout
    helps = _option_help(text)
    assert {"--epochs", "--lr", "--patience", "--dropout", "--rating-kinds"} <= set(helps)
    for option, help_text in helps.items():
        # a default rich ate ("Most epochs ."), or one left empty
        assert not re.search(r"\s\.(\s|$)|\(\s*\)|\[\s*\]|default:\s*[.;)]", help_text), option
    assert helps["--model"].startswith("Model name: " + ", ".join(sorted(REGISTRY)))
    base = {f.name: f.default for f in (*fields(ModelConfig), *fields(TrainConfig))}
    for name in ("epochs", "batch_size", "lr", "n_neg", "patience", "eval_every", "dim",
                 "layers", "l2", "dropout"):  # fmt: skip
        help_text = helps["--" + name.replace("_", "-")]
        assert f"(default: {base[name]:g}" in help_text, help_text
        for model, cls in REGISTRY.items():  # every model's own value, named
            if name in cls.defaults and cls.defaults[name] != base[name]:
                assert re.search(rf"{cls.defaults[name]:g} for [\w, ]*\b{model}\b", help_text)
    assert helps["--epochs"] == "Most epochs (default: 400 for every model)."
    assert "0.005 for directau, gcfa, kgat, lightgcn, mmkgat, xsimgcl" in helps["--lr"]
    assert helps["--rating-kinds"].endswith("(default: off; on for gcfa).")
    assert "mmkgat cf_loss=softmax" in helps["--extra"]
