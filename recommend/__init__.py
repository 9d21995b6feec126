"""Recommenders: data from graph exports, splits, metrics, models, training, runs."""
