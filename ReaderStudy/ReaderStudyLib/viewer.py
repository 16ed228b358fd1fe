"""Showing one blinded case at a time in Slicer's views, with the study's hanging protocol and rulers.

Runs on slicer-core (tests) and inside Slicer. Only one case is in the scene at a time: showing the next case
removes the previous one and its rulers, so nothing of an earlier case stays reachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import slicer

from NetZeroAICT.mrml.blinded_case import load_blinded_case, unload_case
from NetZeroAICT.mrml.hanging import (LAYOUTS_WITH_3D, HangingProtocol, apply_hanging_protocol,
                                      apply_window_preset)
from NetZeroAICT.mrml.ruler import Ruler


class CaseViewer:
    """Loads cases under their codes and shows them as the hanging protocol says.

    Args:
        hanging: the study's hanging protocol.
        scene: the MRML scene (default ``slicer.mrmlScene``).
        volume_rendering_logic: Slicer's volume rendering logic for 3D (``slicer.modules.volumerendering
            .logic()`` in the application; None headless, where 3D is skipped).
        after_show: called with no argument once a case is shown (in the application:
            ``slicer.util.resetSliceViews`` to centre the views on it).
    """

    def __init__(self, hanging: HangingProtocol, scene=None, volume_rendering_logic=None,
                 after_show: Callable[[], None] | None = None):
        self.hanging = hanging
        self.after_show = after_show
        self.scene = scene or slicer.mrmlScene
        self.volume_rendering_logic = volume_rendering_logic
        self.node = None
        self.rulers: dict[str, Ruler] = {}
        self.preset_index = 0

    def show(self, code: str, image_path: str | Path):
        """Replace the shown case by the image at ``image_path``, named ``code``; returns its volume node."""
        self.clear()
        self.node = load_blinded_case(image_path, code, self.scene)
        apply_hanging_protocol(self.hanging, self.node, self.scene)
        self.preset_index = 0
        if self.hanging.show_3d and self.volume_rendering_logic is not None \
                and self.hanging.layout in LAYOUTS_WITH_3D:
            display = self.volume_rendering_logic.CreateDefaultVolumeRenderingNodes(self.node)
            display.SetVisibility(True)
        if self.after_show is not None:
            self.after_show()
        return self.node

    def next_window_preset(self) -> str:
        """Switch to the next window/level preset of the protocol; returns its name."""
        presets = self.hanging.window_presets
        self.preset_index = (self.preset_index + 1) % len(presets)
        if self.node is not None:
            apply_window_preset(self.node, presets[self.preset_index])
        return presets[self.preset_index].name

    def start_ruler(self, question_id: str, on_length: Callable[[str, float], None]) -> Ruler:
        """A fresh ruler for ``question_id`` (replacing its previous one), in place mode inside Slicer."""
        if question_id in self.rulers:
            self.rulers.pop(question_id).remove()
        ruler = Ruler(question_id, on_length, self.scene)
        ruler.start_placing()
        self.rulers[question_id] = ruler
        return ruler

    def clear(self) -> None:
        """Remove the shown case and its rulers from the scene."""
        for ruler in self.rulers.values():
            ruler.remove()
        self.rulers = {}
        if self.node is not None and self.scene.IsNodePresent(self.node):
            unload_case(self.node, self.scene)  # with its display nodes, 3D rendering included
        self.node = None
