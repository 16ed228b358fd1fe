"""Paired-data foundry: synthetic NCCT/CTA phantoms, virtual non-contrast, registration, datasets on disk.

    from NetZeroAICT.foundry import make_pair, PhantomPair, load_case

Everything this package makes from procedures is labelled synthetic (volume metadata, file description,
``case["synthetic"]``).
"""

from .pair import PhantomPair, load_case
from .phantom import default_grid, make_pair, pathologies

__all__ = ["make_pair", "PhantomPair", "load_case", "default_grid", "pathologies"]
