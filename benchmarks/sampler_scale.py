"""MMKGAT at scale with the neighbour sampler: one training epoch on a synthetic graph of
``--interactions`` user-item interactions, with its seconds and the process's peak RSS.

    python benchmarks/sampler_scale.py --interactions 100000            # seconds
    nice -n 10 python benchmarks/sampler_scale.py --json benchmarks/results/sampler_scale_10m.json

The graph is built straight into a :class:`recommend.data.RecData` with numpy (no graph store,
no string ids, no GraphExport): users and videos fall into taste clusters, a user's clicks go
mostly to videos of their own cluster, popular ones first, and the item KG (genre, tag,
creator, a Visual feature entity per video) and user KG (age group, gender, occupation) follow
the clusters, so there is something to learn. One epoch is the trainer's
(:meth:`recommend.train.Trainer.train_epoch`: the CF pass over every training pair on sampled
neighbourhoods, the TransR pass, the attention refresh); then the test users are ranked with
the full propagation, as evaluation always is. Peak RSS is ``resource.getrusage``'s
``ru_maxrss``: the whole process, graph generation included.

The defaults (dim 32, 2 layers, fanouts 10 and 5, batches of 16,384 pairs under BPR) are the
10M run's. Why: once the sampled neighbourhoods of a batch cover most of the graph's nodes, a
step costs about the same at any batch size (every covered node goes through the layers), so
a 10M epoch wants few, large batches, and the sampled softmax then costs ``[B, B]`` logits. At
the model's own dim 64 and 3 layers, a 16,384-pair step took ~9.5 s on a loaded 2-core machine
(a 610-step CF pass of ~97 min) at 7.4 GiB peak; batches of 65,536 went past 9 GiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLUSTERS = 20
OWN_CLUSTER = 0.8  # share of a user's clicks that go to videos of their own cluster
GIB = 1024**3


def peak_rss() -> int:
    """The process's peak resident set so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _skewed(rng: np.random.Generator, sizes: np.ndarray) -> np.ndarray:
    """One index below each of ``sizes``, low indices likelier (a popularity long tail)."""
    return np.minimum((sizes * rng.random(len(sizes)) ** 2.5).astype(np.int64), sizes - 1)


def clicks(rng: np.random.Generator, n_users: int, n_items: int, n: int,
           user_cluster: np.ndarray, item_cluster: np.ndarray) -> np.ndarray:  # fmt: skip
    """About ``n`` distinct (user, item) keys ``user * n_items + item``, sorted, built a chunk
    of users at a time so no per-draw temporary is larger than a chunk's."""
    order = np.argsort(item_cluster, kind="stable")  # items grouped by cluster
    size = np.bincount(item_cluster, minlength=CLUSTERS)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    popular = rng.permutation(n_items)  # global popularity ranking
    per_user = rng.lognormal(-0.18, 0.6, n_users)
    per_user = np.clip(np.round(per_user * n / per_user.sum()), 1, n_items // 4).astype(np.int64)
    keys = []
    step = 50_000
    for lo in range(0, n_users, step):
        want, factor = int(per_user[lo : lo + step].sum()), 1.0
        for _ in range(8):  # repeats are dropped: draw more until the chunk has its share
            draws = np.round(per_user[lo : lo + step] * factor).astype(np.int64)
            users = np.repeat(np.arange(lo, min(lo + step, n_users)), draws)
            c = user_cluster[users]
            own = rng.random(len(users)) < OWN_CLUSTER
            local = order[start[c] + _skewed(rng, np.maximum(size[c], 1))]
            anywhere = popular[_skewed(rng, np.full(len(users), n_items))]
            got = np.unique(users * n_items + np.where(own & (size[c] > 0), local, anywhere))
            if len(got) >= want:
                break
            factor *= 1.05 * want / max(len(got), 1)
        keys.append(np.sort(rng.choice(got, min(want, len(got)), replace=False)))
    return np.concatenate(keys)


def synthetic_recdata(n: int, n_users: int, n_items: int, seed: int = 0,
                      held_out: int = 4000, feature_dim: int = 32) -> Any:  # fmt: skip
    """A :class:`RecData` with about ``n`` interactions (``held_out`` of them split off, half
    validation, half test), built from numpy arrays only."""
    import pandas as pd

    from recommend.data import KGTriples, RecData

    rng = np.random.default_rng(seed)
    uc = rng.integers(0, CLUSTERS, n_users)
    ic = rng.integers(0, CLUSTERS, n_items)
    keys = clicks(rng, n_users, n_items, n, uc, ic)
    out = np.zeros(len(keys), bool)
    out[rng.choice(len(keys), min(held_out, len(keys) // 10), replace=False)] = True
    pairs = lambda k: np.stack([k // n_items, k % n_items], axis=1)  # noqa: E731
    train, rest = pairs(keys[~out]), pairs(keys[out])
    del keys, out
    valid, test = rest[::2], rest[1::2]

    items = np.arange(n_items)
    n_genres, n_tags, n_people = 18, 60, max(CLUSTERS, n_items // 20)
    off_g, off_t = n_items, n_items + n_genres
    off_p, off_v = off_t + n_tags, off_t + n_tags + n_people
    near = lambda home, m: np.where(rng.random(m) < 0.85, home, rng.integers(0, 10**9, m))  # noqa: E731
    genre = near(ic, n_items) % n_genres
    tag = np.concatenate([near(ic * 3 + j, n_items) % n_tags for j in range(2)])
    person = (near(ic, n_items) + CLUSTERS * rng.integers(0, n_people, n_items)) % n_people
    centres = rng.standard_normal((CLUSTERS, feature_dim)).astype(np.float32)
    feats = centres[ic] + rng.standard_normal((n_items, feature_dim)).astype(np.float32)
    item_kg = KGTriples(
        n_entities=off_v + n_items,
        relation_names=["CREATED_BY", "HAS_GENRE", "HAS_TAG", "HAS_VISUAL"],
        heads=np.concatenate([items, items, items, items, items]),
        relations=np.repeat(np.array([0, 1, 2, 2, 3]), n_items),
        tails=np.concatenate([off_p + person, off_g + genre, off_t + tag, off_v + items]),
        offsets={"Video": 0, "Genre": off_g, "Tag": off_t, "Person": off_p, "Visual": off_v},
        entity_features={"Visual": (off_v + items, feats)},
    )
    users = np.arange(n_users)
    n_attr = (7, 2, 21)  # age groups, genders, occupations
    attr = [near(uc, n_users) % a for a in n_attr]
    offs = np.cumsum([n_users, *n_attr[:-1]])
    user_kg = KGTriples(
        n_entities=n_users + sum(n_attr),
        relation_names=["HAS_GENDER", "HAS_OCCUPATION", "IN_AGE_GROUP"],
        heads=np.concatenate([users] * 3),
        relations=np.repeat(np.array([2, 0, 1]), n_users),
        tails=np.concatenate([o + a for o, a in zip(offs, attr, strict=True)]),
        offsets={"User": 0, "AgeGroup": int(offs[0]), "Gender": int(offs[1]),
                 "Occupation": int(offs[2])},
    )  # fmt: skip
    kinds_all = np.concatenate([train, np.zeros((len(train), 1), np.int64)], axis=1)
    return RecData(
        n_users=n_users, n_items=n_items, user_ids=pd.RangeIndex(n_users, name="User"),
        item_ids=pd.RangeIndex(n_items, name="Video"), train=train, valid=valid, test=test,
        kind_names=["CLICKED"], train_kind=np.zeros(len(train), np.int64),
        train_kinds_all=kinds_all, item_kg=item_kg, user_kg=user_kg,
        item_features={"Visual": feats},
    )  # fmt: skip


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from recommend.models.base import build
    from recommend.train import Trainer, configs_for, seed_everything

    torch.set_num_threads(args.threads)
    n_users = args.users or max(100, args.interactions // 50)
    n_items = args.items or max(200, args.interactions // 200)
    t0 = time.perf_counter()
    data = synthetic_recdata(args.interactions, n_users, n_items, args.seed)
    res: dict[str, Any] = {
        "interactions": int(len(data.train) + len(data.valid) + len(data.test)),
        "train_pairs": int(len(data.train)), "users": n_users, "items": n_items,
        "entities_user_graph": data.user_kg.n_entities + n_items,
        "entities_item_graph": data.item_kg.n_entities + n_users,
        "data_s": time.perf_counter() - t0, "rss_data_gib": peak_rss() / GIB,
    }  # fmt: skip
    extra = {"sampler": args.sampler, "cf_loss": args.cf_loss,
             "fanout": args.fanout[0] if len(args.fanout) == 1 else args.fanout}  # fmt: skip
    rs = configs_for("mmkgat", seed=args.seed, device="cpu", threads=args.threads, epochs=1,
                     batch_size=args.batch_size, dim=args.dim, layers=args.layers,
                     extra=extra)  # fmt: skip
    seed_everything(args.seed)
    t0 = time.perf_counter()
    trainer = Trainer(build("mmkgat", data, rs.model), data, rs.train)
    model: Any = trainer.model
    res.update(edges_user_graph=int(model.enc_u.edges.shape[1]),
               edges_item_graph=int(model.enc_i.edges.shape[1]),
               build_s=time.perf_counter() - t0, rss_build_gib=peak_rss() / GIB)  # fmt: skip
    print(f"{res['interactions']:,} interactions, {n_users:,} users, {n_items:,} items; "
          f"built in {res['data_s'] + res['build_s']:.0f}s", file=sys.stderr)  # fmt: skip
    t0 = time.perf_counter()
    losses = trainer.train_epoch()
    res.update(s_per_epoch=time.perf_counter() - t0, rss_epoch_gib=peak_rss() / GIB,
               losses=losses, cf_batches=trainer.timing["cf"][1],
               passes_s={k: s for k, (s, _) in trainer.timing.items()})  # fmt: skip
    if not args.no_eval:
        t0 = time.perf_counter()
        test = trainer.evaluate(trainer.test_eval)
        res.update(eval_s=time.perf_counter() - t0, test_users=int(test["users"]),
                   recall_at_20=test["recall@20"], ndcg_at_20=test["ndcg@20"])  # fmt: skip
    res.update(peak_rss_gib=peak_rss() / GIB, sampler=args.sampler, fanout=extra["fanout"],
               cf_loss=args.cf_loss, batch_size=args.batch_size, dim=args.dim,
               layers=args.layers, threads=args.threads, seed=args.seed,
               torch=torch.__version__)  # fmt: skip
    return res


def print_table(res: dict[str, Any]) -> None:
    rows = [
        ("interactions", f"{res['interactions']:,} ({res['train_pairs']:,} training pairs)"),
        ("users / items", f"{res['users']:,} / {res['items']:,}"),
        ("edges G_u / G_i", f"{res['edges_user_graph']:,} / {res['edges_item_graph']:,} "
                            "(inverses included)"),
        ("model", f"mmkgat dim {res['dim']}, {res['layers']} layers, sampler "
                  f"{res['sampler']}, fanout {res['fanout']}, {res['cf_loss']}"),
        ("batch / threads", f"{res['batch_size']} ({res['cf_batches']} CF batches) / "
                            f"{res['threads']}"),
        ("data + build", f"{res['data_s']:.1f} s + {res['build_s']:.1f} s"),
        ("s/epoch", f"{res['s_per_epoch']:.1f} ("
                    + ", ".join(f"{k} {v:.1f}" for k, v in res["passes_s"].items()) + ")"),
    ]  # fmt: skip
    if "eval_s" in res:
        rows.append(("test (full prop.)", f"recall@20 {res['recall_at_20']:.4f} over "
                     f"{res['test_users']} users in {res['eval_s']:.1f} s"))  # fmt: skip
    rows.append(("peak RSS", f"{res['peak_rss_gib']:.2f} GiB (after the data "
                 f"{res['rss_data_gib']:.2f}, model {res['rss_build_gib']:.2f}, epoch "
                 f"{res['rss_epoch_gib']:.2f})"))  # fmt: skip
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interactions", type=int, default=10_000_000)
    ap.add_argument("--users", type=int, default=None, help="default: interactions / 50")
    ap.add_argument("--items", type=int, default=None, help="default: interactions / 200")
    ap.add_argument("--sampler", choices=("neighbour", "full"), default="neighbour")
    ap.add_argument("--fanout", type=int, nargs="+", default=[10, 5],
                    help="one for every hop, or one per layer, nearest first")  # fmt: skip
    ap.add_argument("--batch-size", type=int, default=16_384,
                    help="CF pairs per batch: large, since a batch's cost is bounded by the "
                         "graph's nodes once its neighbourhoods cover them")  # fmt: skip
    ap.add_argument("--cf-loss", choices=("bpr", "sampled_softmax"), default="bpr",
                    help="bpr: the sampled softmax costs [batch, batch] logits a step")  # fmt: skip
    ap.add_argument("--dim", type=int, default=32, help="per graph (the model's default: 64)")
    ap.add_argument("--layers", type=int, default=2, help="(the model's default: 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-eval", action="store_true", help="skip ranking the test users")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    res = measure(args)
    print_table(res)
    line = json.dumps(res)
    print(line)
    if args.json:
        args.json.write_text(line + "\n")


if __name__ == "__main__":
    main()
