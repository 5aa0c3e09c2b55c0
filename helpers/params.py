"""Strict checks of a profile's parameter values, before any notebook starts (papermill only warns)."""
from __future__ import annotations


def check_params(params: dict) -> None:
    """Raise ValueError naming the first invalid parameter value and the valid choices."""
