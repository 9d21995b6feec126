"""The evidence rule of a run trained through a dataset spec (:mod:`kgrec.spec`).

Each interaction type the spec lists says whether an explanation may cite it (``evidence``) and,
for a weighted one, the least weight it cites (``evidence_min``; default: 80% of the largest
weight in the run's export, 4 of 5 stars, or the user's own mean if that is higher).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kg_store.export import GraphExport
from kgrec.schema import USER, VIDEO
from kgrec.spec import DatasetSpec
from recommend.explain.evidence import RATING_THRESHOLD, EvidenceRule

SHARE_OF_TOP = 0.8
"""Default least cited weight, as a share of the largest weight (4 of 5 stars)."""


def evidence_rule(spec: DatasetSpec, export: GraphExport) -> EvidenceRule:
    """The rule for ``spec``; kgrec's own defaults when the spec lists no interactions."""
    if spec.interactions is None:
        return EvidenceRule()
    weighted = [i for i in spec.interactions if i.evidence and i.weight]
    plain = frozenset(i.type for i in spec.interactions if i.evidence and not i.weight)
    threshold = RATING_THRESHOLD
    given = [i.evidence_min for i in weighted if i.evidence_min is not None]
    if given:
        threshold = min(given)
    elif weighted:
        top = [_largest(export, i.type) for i in weighted]
        finite = [t for t in top if np.isfinite(t)]
        if finite:
            threshold = SHARE_OF_TOP * max(finite)
    return EvidenceRule(
        positive_kinds=plain,
        rated_kinds=frozenset(i.type for i in weighted),
        rating_threshold=float(threshold),
    )


def _largest(export: GraphExport, kind: str) -> float:
    frame = export.edges.get((USER, kind, VIDEO))
    if frame is None or "rating" not in frame.columns or not len(frame):
        return float("nan")
    return float(pd.to_numeric(frame["rating"], errors="coerce").max())
