"""Recommenders by name: ``build("mmkgat", data, ModelConfig(...))``.

Importing this package registers every model module below in :data:`REGISTRY`.
"""

from recommend.models import bprmf, kgat, lightgcn, mmkgat, pop  # noqa: F401 - register the models
from recommend.models.base import REGISTRY, ModelConfig, Recommender, build, register

__all__ = ["REGISTRY", "ModelConfig", "Recommender", "build", "register"]
