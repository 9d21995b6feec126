"""``kgrec tune``: search spaces, the study on disk, pruning, resuming, the final runs."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from kg_ingest.synthetic import generate
from recommend.data import export_from_graph_data
from recommend.models import REGISTRY, ModelConfig
from recommend.models.base import ModelOptions, option
from recommend.models.losses import CFObjectiveOptions
from recommend.models.search import (
    SHARED,
    Choice,
    IntRange,
    LogUniform,
    Space,
    Uniform,
    shared,
    space_from_json,
)
from recommend.train import TrainConfig
from recommend.tune import (
    STUDY,
    TuneDir,
    TuneSettings,
    TuneSpace,
    checked_space,
    default_params,
    make_pruner,
    model_space,
    new_tune_dir,
    run_study,
)
from tests.test_cli import KGREC, _env, kgrec

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACES: list[Space] = [
    Uniform(0.0, 0.5),
    LogUniform(1e-4, 1e-1),
    IntRange(1, 4),
    IntRange(5, 30, step=5),
    IntRange(1, 64, log=True),
    Choice(["a", "b", "c"]),
    Choice([True, False]),
    Choice([0, 50, 100]),
]


# -- spaces ------------------------------------------------------------------------------------


@pytest.mark.parametrize("space", SPACES, ids=str)
def test_space_suggests_within_its_bounds(space: Space) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(60):
        trial = study.ask()
        value = space.suggest(trial, "x")
        assert space.contains(value), value
        seen.add(value)
        study.tell(trial, 0.0)
    if isinstance(space, Choice):
        assert seen == set(space.values)  # every value is reachable
    elif isinstance(space, IntRange):
        assert min(seen) >= space.low and max(seen) <= space.high and len(seen) > 1
    else:
        assert isinstance(space, Uniform)
        assert all(space.low <= v <= space.high for v in seen) and len(seen) == 60
    assert space_from_json(json.loads(json.dumps(space.to_json())), "here") == space


def test_log_space_draws_on_a_log_scale() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    values = [LogUniform(1e-4, 1.0).suggest(study.ask(), "x") for _ in range(400)]
    below = sum(v < 1e-2 for v in values) / len(values)
    assert 0.4 < below < 0.6  # half the decades lie below 1e-2; uniform would put 1% there


def test_contains_is_exact() -> None:
    assert not Choice([0, 1]).contains(True)  # a bool is not an int
    assert not Choice([True, False]).contains(1)
    assert not IntRange(5, 30, step=5).contains(12) and IntRange(5, 30, step=5).contains(15)
    assert not IntRange(1, 4).contains(2.0)
    assert not Uniform(0.0, 1.0).contains(float("nan")) and not Uniform(0.0, 1.0).contains(1.5)
    assert not LogUniform(0.1, 1.0).contains("0.5")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Uniform(1.0, 0.0), "low < high"),
        (lambda: LogUniform(0.0, 1.0), "low must be > 0"),
        (lambda: IntRange(1, 4, step=2), "multiple of step"),
        (lambda: IntRange(1.0, 4), "need ints"),  # type: ignore[arg-type]
        (lambda: IntRange(0, 8, log=True), "log range"),
        (lambda: Choice([]), "non-empty"),
        (lambda: Choice([[1, 2]]), "must be None, bool, int, float or str"),  # type: ignore[list-item]
        (lambda: Choice([1, 1]), "repeat"),
    ],
)
def test_bad_space_is_refused(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_stored_space_names_where() -> None:
    with pytest.raises(ValueError, match=r"tune.json space.lr: expected an object with kind"):
        space_from_json({"kind": "normal"}, "tune.json space.lr")
    with pytest.raises(ValueError, match=r"here: loguniform: low must be > 0"):
        space_from_json({"kind": "loguniform", "low": 0, "high": 1}, "here")
    with pytest.raises(ValueError, match=r"here: uniform takes high, low"):
        space_from_json({"kind": "uniform", "low": 0, "high": 1, "step": 2}, "here")


# -- what a model declares -----------------------------------------------------------------------


def test_unknown_names_in_a_space_error_clearly() -> None:
    with pytest.raises(ValueError, match=r"x: nope is no tunable setting; tunable: .*\blr\b"):
        checked_space("lightgcn", {"nope": Uniform(0.0, 1.0)}, {}, "x")
    with pytest.raises(ValueError, match=r"x: epochs is no tunable setting"):  # the budget
        checked_space("lightgcn", {"epochs": IntRange(1, 5)}, {}, "x")
    with pytest.raises(ValueError, match=r"x: lightgcn has no option bogus; its options: cf_loss"):
        checked_space("lightgcn", {}, {"bogus": Choice([1, 2])}, "x")
    with pytest.raises(ValueError, match=r"no shared search space for nope; shared: lr"):
        shared("lr", "nope")
    stored = {"settings": {}, "options": {"bogus": Choice([1, 2]).to_json()}}
    with pytest.raises(ValueError, match=r"tune.json space: lightgcn has no option bogus"):
        TuneSpace.from_json(stored, "lightgcn", "tune.json space")

    @dataclass(frozen=True)
    class Broken(CFObjectiveOptions):
        search_spaces = {"temperature": LogUniform(0.1, 1.0)}  # tau is the option's name

    with pytest.raises(ValueError, match=r"Broken.search_spaces: no option 'temperature'"):
        Broken.search_space()


def test_option_search_and_inherited_spaces() -> None:
    @dataclass(frozen=True)
    class Opts(CFObjectiveOptions):
        search_spaces = {"tau": LogUniform(0.1, 1.0)}
        k: int = option(3, "neighbours", search=IntRange(1, 5))
        plain: bool = option(True, "not searched")

    assert Opts.search_space() == {"k": IntRange(1, 5), "tau": LogUniform(0.1, 1.0)}
    assert Opts.help()["k"] == "neighbours"  # the help is still there
    assert ModelOptions.search_space() == {}


MODELS = sorted(n for n, c in REGISTRY.items() if c.search_space or c.options_type.search_space())


def test_the_models_declare_spaces() -> None:
    assert {"bprmf", "lightgcn", "kgat", "mmkgat", "gcfa", "ludp", "mgnn"} <= set(MODELS)
    with pytest.raises(ValueError, match="pop declares no search space"):
        model_space("pop")


@pytest.mark.parametrize("model", MODELS)
def test_a_model_space_is_valid_and_holds_its_defaults(model: str) -> None:
    space = model_space(model)
    # the first trial is the defaults: every default must lie in the space
    assert set(default_params(model, space)) == {name for name, _ in space.items()}
    cls = REGISTRY[model]
    hints = {f.name: f.type for f in fields(cls.options_type)}
    for name, sp in space.options.items():  # every value the space can give parses
        assert name in hints
        values = sp.values if isinstance(sp, Choice) else (sp.low, sp.high)  # type: ignore[attr-defined]
        for v in values:
            cls.parse_options({name: v}, cls.options_type)
    for name, sp in space.settings.items():
        assert name in {f.name for f in (*fields(ModelConfig), *fields(TrainConfig))}
        assert sp == SHARED[name] or name not in SHARED or isinstance(sp, Space)


# -- pruning -------------------------------------------------------------------------------------

PRUNER = {"pruner": {"name": "median", "startup_trials": 2, "warmup_epochs": 3}}


def _good(study: optuna.Study, value: float, epochs: int = 10) -> None:
    study.add_trial(create_trial(
        params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)}, value=value,
        intermediate_values={e: value for e in range(1, epochs + 1)},
    ))  # fmt: skip


def test_median_pruner_prunes_a_bad_trial_after_the_warmup() -> None:
    study = optuna.create_study(direction="maximize", pruner=make_pruner(PRUNER))
    _good(study, 0.5)
    pruned_at: list[int] = []

    def fake(values: list[float]) -> Any:
        def run(trial: optuna.Trial) -> float:
            for epoch, v in enumerate(values, 1):
                trial.report(v, epoch)
                if trial.should_prune():
                    pruned_at.append(epoch)
                    raise optuna.TrialPruned()
            return values[-1]

        return run

    study.optimize(fake([0.1] * 10), n_trials=1)  # one finished trial: below the startup
    assert study.trials[-1].state == TrialState.COMPLETE
    _good(study, 0.6)
    study.optimize(fake([0.1] * 10), n_trials=1)
    assert study.trials[-1].state == TrialState.PRUNED
    assert pruned_at == [3]  # not before the warmup epochs, at once after
    study.optimize(fake([0.7] * 10), n_trials=1)  # above the median: runs to the end
    assert study.trials[-1].state == TrialState.COMPLETE


@pytest.fixture()
def tune_dir(tmp_path: Path) -> TuneDir:
    export = export_from_graph_data(generate(120, 80, seed=3))
    settings = TuneSettings(epochs=6, patience=6, prune_startup=1, prune_warmup=1,
                            defaults_first=False)  # fmt: skip
    return new_tune_dir(export, "bprmf", "syn", tmp_path / "runs", settings)


def test_a_trial_reports_each_epoch_and_is_pruned(tune_dir: TuneDir) -> None:
    storage = tune_dir.storage()
    study = optuna.load_study(study_name=STUDY, storage=storage)
    dists: dict[str, BaseDistribution] = {"lr": FloatDistribution(5e-4, 2e-2, log=True),
             "l2": FloatDistribution(1e-6, 1e-2, log=True)}  # fmt: skip
    study.add_trial(
        create_trial(
            params={"lr": 5e-3, "l2": 1e-4},
            distributions=dists,
            value=1.0,
            intermediate_values={e: 1.0 for e in range(1, 7)},
        )
    )
    epochs: list[tuple[int, int]] = []
    study = run_study(tune_dir, 2, threads=1, on_epoch=lambda n, r: epochs.append((n, r["epoch"])))
    trial = study.trials[-1]
    assert trial.state == TrialState.PRUNED  # recall@20 < 1.0 after its first epoch
    assert epochs == [(1, 1)] and trial.user_attrs["epochs"] == 1
    assert list(trial.intermediate_values) == [1]
    assert 0.0 < trial.intermediate_values[1] < 1.0
    assert not list(tune_dir.path.rglob("*.pt"))  # trials keep no checkpoints


def test_trials_never_see_the_test_pairs(tune_dir: TuneDir) -> None:
    data = tune_dir.data()
    assert len(data.test) == 0 and len(data.valid) > 0 and len(data.train) > 0


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kgrec-home")
    kgrec(path, "ingest", "synthetic", "--users", "120", "--videos", "80", "--graph", "syn")
    yield path
    subprocess.run([KGREC, "db", "stop"], env=_env(path), capture_output=True, timeout=60)


def _json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout  # --json: one object, nothing else on stdout
    return dict(json.loads(lines[0]))


def _trials(tune: Path) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.RDBStorage(f"sqlite:///{tune / 'study.db'}")
    return optuna.load_study(study_name=STUDY, storage=storage).trials


def test_tune_resume_and_final_runs(home: Path) -> None:
    doc = _json(kgrec(home, "tune", "--model", "lightgcn", "--dataset", "syn", "--trials", "3",
                      "--epochs", "3", "--threads", "1", "--device", "cpu", "--final-seeds", "2",
                      "--json"))  # fmt: skip
    tune = Path(doc["tune"])
    assert tune.parent == home / "runs" and tune.name.startswith("tune-lightgcn-syn-")
    trials = _trials(tune)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert [t["number"] for t in doc["trials"]] == [0, 1, 2]
    assert doc["trials"][0]["defaults"] and trials[0].params["lr"] == 5e-3  # the defaults first
    space = TuneDir(tune).space
    assert set(doc["best"]["params"]) == {name for name, _ in space.items()}
    for name, sp in space.items():
        assert sp.contains(doc["best"]["params"][name]), name
    assert doc["best"]["value"] == max(t.value for t in trials if t.value is not None)
    finals = doc["final"]["runs"]
    assert [f["seed"] for f in finals] == [0, 1]
    for f in finals:  # ordinary runs, trained with the best parameters on the study's split
        run = Path(f["run"])
        assert run.parent == tune / "final"
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["train_config"]["lr"] == doc["best"]["params"]["lr"]
        assert cfg["split"]["seed"] == 0
        assert (run / "split.npz").read_bytes() == (tune / "split.npz").read_bytes()
    r20 = [f["test"]["recall@20"] for f in finals]
    mean, std = doc["final"]["test"]["recall@20"]["mean"], doc["final"]["test"]["recall@20"]["std"]
    assert math.isclose(mean, sum(r20) / 2) and math.isclose(std, abs(r20[0] - r20[1]) / 2)
    # checkpoints only in the final runs: disk use does not grow with the trials
    assert all("final" in p.relative_to(tune).parts for p in tune.rglob("*.pt"))
    assert kgrec(home, "runs", "--json").stdout.strip() == "[]"  # not listed as a run

    # resume to 5 trials in all; the final runs of an unchanged best are kept
    again = _json(kgrec(home, "tune", "--resume", tune.name, "--trials", "5", "--threads", "1",
                        "--device", "cpu", "--final-seeds", "2", "--json"))  # fmt: skip
    trials = _trials(tune)
    assert len(trials) == 5 and all(t.state.is_finished() for t in trials)
    assert [t["number"] for t in again["trials"]] == [0, 1, 2, 3, 4]
    assert [t.params for t in trials[:3]] == [t["params"] for t in doc["trials"]]
    if again["best"]["number"] == doc["best"]["number"]:
        assert again["final"]["runs"] == finals
    assert len(list((tune / "final").iterdir())) == (
        2 if again["best"]["number"] == doc["best"]["number"] else 4
    )

    # the table
    text = kgrec(home, "tune", "--resume", "latest", "--final-seeds", "0").stdout
    assert "best: trial" in text and "(defaults)" in text and "final:" not in text
    assert len(_trials(tune)) == 5  # the total is reached: nothing new


def test_tune_refuses_bad_input(home: Path) -> None:
    bad = kgrec(home, "tune", "--model", "nope", "--dataset", "syn", ok=False)
    assert bad.returncode == 1 and "unknown model 'nope'" in bad.stderr
    bad = kgrec(home, "tune", "--model", "pop", "--dataset", "syn", ok=False)
    assert bad.returncode == 1 and "pop declares no search space" in bad.stderr
    bad = kgrec(home, "tune", "--resume", "tune-nothing", ok=False)
    assert bad.returncode == 1 and "no tune directory 'tune-nothing'" in bad.stderr
    bad = kgrec(home, "tune", "--resume", "latest", "--seed", "3", "--epochs", "2", ok=False)
    assert bad.returncode == 1 and "--seed, --epochs: set when a study starts" in bad.stderr
    bad = kgrec(home, "tune", ok=False)
    assert bad.returncode == 1 and "--model is required" in bad.stderr


@pytest.mark.slow  # waits for a trial to start, then trains its retry: ~30 s
def test_ctrl_c_stops_and_the_trial_is_retried(home: Path) -> None:
    proc = subprocess.Popen(
        [KGREC, "tune", "--model", "bprmf", "--dataset", "syn", "--trials", "2", "--epochs",
         "100000", "--patience", "100000", "--threads", "1", "--device", "cpu"],
        env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        tune = None
        while time.monotonic() < deadline:
            dirs = [p for p in (home / "runs").glob("tune-bprmf-*") if (p / "study.db").exists()]
            if dirs:
                tune = dirs[0]
                try:
                    trials = _trials(tune)
                except KeyError:  # the study is being created
                    trials = []
                if trials and len(trials[0].intermediate_values) >= 2:
                    break
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.1)
        else:
            pytest.fail("the first trial did not start")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        # promptly, not after the trial's 100000 epochs (slack for a loaded machine)
        assert time.monotonic() - t0 < 20.0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert tune is not None and f"kgrec tune --resume {tune.name}" in stderr
    (first,) = _trials(tune)
    assert first.state == TrialState.FAIL and first.user_attrs["interrupted"]
    # a study's budget is fixed when it starts; shorten this one's so the retry finishes
    spec = json.loads((tune / "tune.json").read_text())
    spec["epochs"] = 2
    (tune / "tune.json").write_text(json.dumps(spec))
    kgrec(home, "tune", "--resume", tune.name, "--trials", "1", "--final-seeds", "0",
          "--threads", "1", "--device", "cpu")  # fmt: skip
    first, retry = _trials(tune)
    assert retry.state == TrialState.COMPLETE and retry.user_attrs["retry_of"] == 0
    assert retry.params == first.params and retry.user_attrs["defaults"]
