"""The "Sample NCCT phantom" of Slicer's Sample Data module: a procedural non-contrast CT phantom made by the
core's data foundry on the user's machine (nothing is downloaded). It is not a patient; its name says so."""

from __future__ import annotations

from NetZeroAICT.mrml.volumes import volume_to_node

SAMPLE_NAME = "Sample NCCT phantom"
#: The phantom shown: an aorta case (chest to pelvis), small enough to synthesise in seconds on a CPU.
SAMPLE_INDICATION, SAMPLE_SEED = "aorta", 1
ATTRIBUTE_PHANTOM = "NetZeroAICT.Phantom"


def load_sample_phantom(scene=None, indication: str = SAMPLE_INDICATION, seed: int = SAMPLE_SEED):
    """Generate the phantom's NCCT with ``NetZeroAICT.foundry.make_pair`` and add it to ``scene`` as a
    scalar volume node named :data:`SAMPLE_NAME`; returns the node."""
    from NetZeroAICT.foundry import make_pair

    pair = make_pair(indication, seed)
    node = volume_to_node(pair.ncct, scene, name=SAMPLE_NAME)
    node.SetAttribute(ATTRIBUTE_PHANTOM, "true")
    node.SetAttribute("NetZeroAICT.PhantomCase", f"{indication} seed {seed} (procedural phantom, not a patient)")
    return node
