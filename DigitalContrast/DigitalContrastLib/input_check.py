"""The input check before a run, on a volume node: refuse non-CT; warn (the user must confirm) when the CT is
already contrast-enhanced, when its field of view misses the indication's vessels, or when its spacing is
out of range. Uses the core's CT characterisation; MRML only to read the node."""

from __future__ import annotations

from NetZeroAICT.mrml.volumes import node_to_volume


def check_node(node, indication: str):
    """``NetZeroAICT.characterise.check_input`` on the node's voxels and geometry.

    Returns an ``InputCheck``: ``.status`` ``ok`` | ``warn`` | ``refuse``, ``.reasons`` (full sentences).
    """
    from NetZeroAICT.characterise import check_input

    return check_input(node_to_volume(node), indication)


def suggest_indication_for(node) -> str | None:
    """The indication the node's body coverage suggests (``None`` when nothing fits)."""
    from NetZeroAICT.characterise import characterise, suggest_indication

    return suggest_indication(characterise(node_to_volume(node)))
