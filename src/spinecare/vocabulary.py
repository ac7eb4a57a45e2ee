"""Closed code lists of spinecare, each written once, below every other module.

This module imports nothing from spinecare, so any layer may take its codes from here.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Basis"]

#: How well a weight, threshold or rule is supported: by checked sources, by a source not
#: checked, or by expert judgement alone.
Basis = Literal["published", "unverified", "expert_judgement"]
