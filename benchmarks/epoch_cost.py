"""Training cost per epoch of several models, measured in one process: a table of seconds per
epoch (median over ``--epochs`` repeats) and each model's ratio to the first model's.

    python benchmarks/epoch_cost.py --data ../shared/data/ml-100k
    python benchmarks/epoch_cost.py --data ../shared/data/amazon-book --batches 6 --json cost.json
    python benchmarks/epoch_cost.py --data ../shared/data/ml-100k --models mmkgat --profile 15
    python benchmarks/epoch_cost.py --data ../shared/data/ml-100k --models lightgcn mmkgat \
        mmkgat+cf_loss=bpr            # MODEL+KEY=VALUE: a model option (ModelConfig.extra)

Every model trains with its own defaults (``Recommender.defaults``) at the same batch size on
one thread (``--threads``), on the same data and split (seed 0). The repeats are interleaved
(model A, B, C, then A, B, C again, ...), so a change in the machine's load falls on every
model alike. An epoch is timed as the trainer runs it (``Trainer.train_epoch``: the BPR pass,
each KG pass, the attention refresh), without validation. With ``--batches N`` each pass stops
after N batches and its time is extrapolated to the pass's full number of batches (the
refresh is timed whole): the table says so in its ``timed`` column. ``--profile K`` then
prints, per model, torch.profiler's top-K operators by self CPU time over one such epoch.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_export(data: str) -> Any:
    """The dataset's export, parsed as benchmarks/recommend.py parses it."""
    spec = importlib.util.spec_from_file_location("bench_recommend", ROOT / "benchmarks" /
                                                  "recommend.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.export(data, False, False)


def pass_batches(trainer: Any) -> dict[str, int]:
    """Batches in each pass of a full epoch: ``{"cf": n, "kg_<graph>": n}``."""
    cfg = trainer.config
    out = {"cf": -(-len(trainer.bpr) // cfg.batch_size)}
    for name, sampler in trainer.kg_samplers.items():
        out[f"kg_{name}"] = -(-len(sampler) // cfg.kg_batch_size)
    return out


def epoch_seconds(trainer: Any, full: dict[str, int]) -> float:
    """Seconds of the epoch just trained, each pass's time scaled to its full batch count."""
    total = 0.0
    for kind, (seconds, steps) in trainer.timing.items():
        total += seconds if kind == "refresh" or steps == 0 else seconds / steps * full[kind]
    return total


def variant(spec: str) -> tuple[str, dict[str, Any]]:
    """``"mmkgat+sampler=neighbour+fanout=-1"`` -> ``("mmkgat", {"sampler": "neighbour",
    "fanout": -1})``: a model and ``ModelConfig.extra`` entries (values read as JSON when they
    parse, else as strings)."""
    name, *pairs = spec.split("+")
    extra: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--models {spec!r}: expected MODEL+KEY=VALUE[+KEY=VALUE...]")
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            extra[key] = value
    return name, extra


def build_trainers(args: argparse.Namespace, data: Any) -> dict[str, Any]:
    import torch

    from recommend.models.base import build
    from recommend.train import Trainer, configs_for

    out = {}
    for spec in args.models:
        name, extra = variant(spec)
        rs = configs_for(name, seed=0, device="cpu", threads=args.threads,
                         batch_size=args.batch_size, extra=extra)  # fmt: skip
        torch.manual_seed(0)
        trainer = Trainer(build(name, data, rs.model), data, rs.train)
        trainer.limit = args.batches
        out[spec] = trainer
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from recommend.data import build_recdata, make_split

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    ex = load_export(args.data)
    data = build_recdata(ex, make_split(ex, seed=0))
    del ex
    print(f"{args.data}: {data.n_users} users, {data.n_items} items, {len(data.train)} "
          f"training pairs ({time.perf_counter() - t0:.0f}s to load)", file=sys.stderr)  # fmt: skip
    trainers = build_trainers(args, data)
    full = {name: pass_batches(tr) for name, tr in trainers.items()}
    for tr in trainers.values():  # warm-up: first-touch allocations, lazy CSR patterns
        tr.limit = 1
        tr.train_epoch()
        tr.limit = args.batches
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for rep in range(args.epochs):
        for name, tr in trainers.items():
            tr.train_epoch()
            times[name].append(epoch_seconds(tr, full[name]))
            print(f"repeat {rep + 1}: {name} {times[name][-1]:.2f} s/epoch", file=sys.stderr)
    base = statistics.median(times[args.models[0]])
    rows = []
    for name, tr in trainers.items():
        med = statistics.median(times[name])
        timed = {k: steps for k, (_, steps) in tr.timing.items() if k != "refresh"}
        rows.append({
            "model": name,
            "batches_per_epoch": full[name],
            "batches_timed": timed,
            "extrapolated": any(timed[k] < full[name][k] for k in timed),
            "s_per_epoch": med,
            "s_per_epoch_all": times[name],
            "ratio": med / base if base > 0 else float("nan"),
            "samples_per_s": len(data.train) / med if med > 0 else float("nan"),
        })  # fmt: skip
    profiles = {}
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        for name, tr in trainers.items():
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                tr.train_epoch()
            table = prof.key_averages().table(sort_by="self_cpu_time_total",
                                              row_limit=args.profile)  # fmt: skip
            profiles[name] = table
            print(f"\n== {name}: one epoch ({'batches capped' if args.batches else 'full'})")
            print(table)
    return {"data": args.data, "users": data.n_users, "items": data.n_items,
            "train_pairs": int(len(data.train)), "batch_size": args.batch_size,
            "threads": args.threads, "epochs": args.epochs, "batches": args.batches,
            "rows": rows, "profiles": profiles}  # fmt: skip


def print_table(res: dict[str, Any]) -> None:
    head = ["model", "s/epoch", "min", "max", f"x {res['rows'][0]['model']}", "samples/s",
            "timed"]  # fmt: skip
    body = []
    for r in res["rows"]:
        full, timed = r["batches_per_epoch"], r["batches_timed"]
        how = ", ".join(f"{k} {timed.get(k, 0)}/{n}" for k, n in full.items())
        body.append([r["model"], f"{r['s_per_epoch']:.2f}", f"{min(r['s_per_epoch_all']):.2f}",
                     f"{max(r['s_per_epoch_all']):.2f}", f"{r['ratio']:.2f}",
                     f"{r['samples_per_s']:.0f}", how])  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    print(f"{res['data']}: {res['items']} items, batch {res['batch_size']}, "
          f"{res['threads']} thread(s), median of {res['epochs']} epochs"
          + (f", {res['batches']} batches per pass timed and extrapolated" if res["batches"]
             else ""))  # fmt: skip
    for line in [head, ["-" * w for w in widths], *body]:
        print("  ".join(str(c).rjust(w) for c, w in zip(line, widths, strict=True)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="MovieLens / KGAT folder, or 'synthetic'")
    ap.add_argument("--models", nargs="+", default=["lightgcn", "kgat", "mmkgat"],
                    help="the first is the reference of the ratio (default: lightgcn kgat "
                         "mmkgat); MODEL+KEY=VALUE sets a model option, e.g. "
                         "mmkgat+sampler=neighbour+fanout=-1")  # fmt: skip
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per model (median)")
    ap.add_argument("--batches", type=int, default=None,
                    help="time this many batches per pass and extrapolate (default: whole "
                         "epochs)")  # fmt: skip
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="print torch.profiler's top K operators of one epoch per model",
    )
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    if args.epochs < 1 or (args.batches is not None and args.batches < 1):
        ap.error("--epochs and --batches must be >= 1")
    res = measure(args)
    print_table(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
