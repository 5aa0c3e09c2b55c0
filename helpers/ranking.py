"""The paper's ranking R = w*phi + (1-w)*rho, with the normalisation we chose (the paper does not give one).

phi (energy efficiency) = lowest J/ticket among the variants / this variant's J/ticket, in (0, 1];
rho (task quality) = RCA macro-F1, in [0, 1]. Both are "higher is better", so R is too.
"""
from __future__ import annotations


def rank(table, w: float = 0.5, energy: str = "joules_per_ticket", quality: str = "macro_f1"):
    """Add phi, rho and R columns to a table of variants and sort it by R, best first."""
    if not 0 <= w <= 1:
        raise ValueError(f"w must be between 0 and 1, got {w}")
    if (table[energy] <= 0).any():
        raise ValueError(f"every {energy} must be > 0 to compute energy efficiency")
    out = table.copy()
    out["phi"] = out[energy].min() / out[energy]
    out["rho"] = out[quality]
    out["R"] = w * out["phi"] + (1 - w) * out["rho"]
    return out.sort_values("R", ascending=False).reset_index(drop=True)
