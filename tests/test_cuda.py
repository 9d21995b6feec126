"""The CUDA path: every model computes on the GPU what it computes on the CPU, and trains there.

Skipped where torch sees no CUDA device (CI, the development machines). Run on a GPU machine
with ``pytest tests/test_cuda.py``.
"""

from __future__ import annotations

import pytest
import torch

from recommend.data import RecData
from recommend.models import ModelConfig, Recommender, build
from recommend.train import TrainConfig, Trainer, seed_everything
from tests import test_models as tm
from tests.test_models import ModelCase, planted_auc, planted_data

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")

CASES: list[type[ModelCase]] = [tm.TestBPRMF, tm.TestLightGCN, tm.TestLightGCNSoftmax,
                                tm.TestLightGCNSampledSoftmax, tm.TestKGAT, tm.TestMMKGAT,
                                tm.TestMMKGATSoftmax, tm.TestMMKGATSampledSoftmax, tm.TestLUDP,
                                tm.TestGCFA, tm.TestMGNN]  # fmt: skip
IDS = [f"{c.name}-{c.config.extra.get('cf_loss', 'bpr')}" for c in CASES]
CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def data() -> RecData:
    return planted_data()


def _pair(case: type[ModelCase], data: RecData) -> tuple[Recommender, Recommender]:
    """The same freshly built model twice: on the CPU and on the GPU."""
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(build(case.name, data, case.config))
    return models[0], models[1].to(CUDA)


def _scores(model: Recommender, device: torch.device) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        model.prepare_scoring()
        return model.score_all(torch.arange(model.n_users, device=device)).cpu()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_computes_what_cpu_computes(case: type[ModelCase], data: RecData) -> None:
    """Same weights, same inputs: the losses, their gradients and every score agree."""
    cpu, gpu = _pair(case, data)
    tr = torch.as_tensor(data.train[:16])
    neg = (torch.arange(16) * 7) % data.n_items
    losses = []
    for model, dev in ((cpu, torch.device("cpu")), (gpu, CUDA)):
        model.train()
        loss = model.cf_loss(tr[:, 0].to(dev), tr[:, 1].to(dev), neg.to(dev))
        loss.backward()
        losses.append(loss.detach().cpu())
        for name, trip in model.kg_graphs().items():
            h, r, t = trip[:, :16]
            kg = model.kg_loss(name, h.to(dev), r.to(dev), t.to(dev), t.flip(0).to(dev))
            losses.append(kg.detach().cpu())
    half = len(losses) // 2
    torch.testing.assert_close(losses[half:], losses[:half], rtol=1e-4, atol=1e-5)
    for (name, p_cpu), p_gpu in zip(cpu.named_parameters(), gpu.parameters(), strict=True):
        assert p_gpu.device.type == "cuda", name
        if p_cpu.grad is not None:
            assert p_gpu.grad is not None, name
            torch.testing.assert_close(p_gpu.grad.cpu(), p_cpu.grad, rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(
        _scores(gpu, CUDA), _scores(cpu, torch.device("cpu")), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_trainer_learns_on_gpu(case: type[ModelCase], data: RecData) -> None:
    """The Trainer with ``device="cuda"``: weights stay on the GPU, and the planted structure
    is learnt as well as the CPU tests ask."""
    seed_everything(0)
    model = build(case.name, data, case.config)
    cfg = TrainConfig(epochs=40, lr=0.01, batch_size=16, eval_every=5, patience=100,
                      device="cuda", seed=0)  # fmt: skip
    result = Trainer(model, data, cfg).fit()
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert 0.0 <= result.test["recall@20"] <= 1.0
    auc = planted_auc(data, _scores(model, CUDA))
    assert auc >= case.min_auc, f"{case.name}: AUC {auc:.3f} after 40 epochs on the GPU"


def test_auto_device_picks_cuda() -> None:
    from kgrec.device import resolve_device

    assert resolve_device("auto").type == "cuda"
    model = build("bprmf", planted_data(), ModelConfig(dim=8))
    trainer = Trainer(model, planted_data(), TrainConfig(epochs=1, device="auto"))
    assert trainer.device.type == "cuda"
