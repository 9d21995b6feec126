"""Evaluation of recommenders: full ranking in user batches, accuracy and beyond.

* :mod:`~recommend.metrics.ranking`: precision, recall, NDCG, hit, MRR and MAP at K, and AUC,
  per user from the hit pattern of the ranked lists;
* :mod:`~recommend.metrics.beyond`: novelty, ARP and ILD per user, coverage and Gini over the
  catalogue, one class each;
* :mod:`~recommend.metrics.evaluator`: the :class:`Evaluator` that ranks, and the project's
  protocol (:func:`split_evaluator`);
* :mod:`~recommend.metrics.paper`: paper 003's AUC and NDCG@1/@2.
"""

from recommend.metrics.beyond import (
    CATALOGUE_METRICS,
    AveragePopularity,
    CatalogueMetric,
    Coverage,
    Gini,
    IntraListDiversity,
    ListMetric,
    Novelty,
    TopLists,
    item_attributes,
    list_metrics,
)
from recommend.metrics.evaluator import Evaluation, Evaluator, evaluate, split_evaluator
from recommend.metrics.paper import paper_metrics
from recommend.metrics.ranking import (
    DEFAULT_KS,
    MAX_BATCH_CELLS,
    auc_batch,
    csr,
    gather_rows,
    ideal_dcg,
    topk_metrics,
)

__all__ = [
    "CATALOGUE_METRICS", "DEFAULT_KS", "MAX_BATCH_CELLS", "AveragePopularity", "CatalogueMetric",
    "Coverage", "Evaluation", "Evaluator", "Gini", "IntraListDiversity", "ListMetric", "Novelty",
    "TopLists", "auc_batch", "csr", "evaluate", "gather_rows", "ideal_dcg", "item_attributes",
    "list_metrics", "paper_metrics", "split_evaluator", "topk_metrics",
]  # fmt: skip
