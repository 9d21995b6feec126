"""Recommenders by name: ``build("mmkgat", data, ModelConfig(...))``.

Importing this package registers every model module below in :data:`REGISTRY`.
"""

# importing the model modules registers them
from recommend.models import (  # noqa: F401
    bprmf,
    directau,
    gcfa,
    kgat,
    lightgcn,
    ludp,
    mgnn,
    mmkgat,
    pop,
    simgcl,
    xsimgcl,
)
from recommend.models.base import REGISTRY, ModelConfig, Recommender, build, register

__all__ = ["REGISTRY", "ModelConfig", "Recommender", "build", "register"]
