"""The reader's ruler: a markups line whose length fills a measurement answer (millimetres).

A volume's RAS space is in millimetres, so a line's length between its two control points is the measured length.
:class:`Ruler` creates the line node (named "Ruler", nothing else), reports its length to a callback whenever a
point is placed or moved, and, inside Slicer, puts the application into place mode for it.
"""

from __future__ import annotations

import math
from typing import Callable

import slicer

RULER_NAME = "Ruler"


def line_length_mm(point_a_ras, point_b_ras) -> float:
    """Euclidean distance in millimetres between two RAS points."""
    return math.dist(tuple(map(float, point_a_ras)), tuple(map(float, point_b_ras)))


def ruler_length_mm(line_node) -> float | None:
    """Length of a markups line node in millimetres, or None until both points are placed."""
    if line_node.GetNumberOfDefinedControlPoints() < 2:
        return None
    a, b = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    line_node.GetNthControlPointPositionWorld(0, a)
    line_node.GetNthControlPointPositionWorld(1, b)
    return line_length_mm(a, b)


class Ruler:
    """One ruler line for one measurement question; ``on_length(question_id, length_mm)`` on every change."""

    def __init__(self, question_id: str, on_length: Callable[[str, float], None], scene=None):
        self.scene = scene or slicer.mrmlScene
        self.question_id = question_id
        self.on_length = on_length
        self.node = self.scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", RULER_NAME)
        self.node.CreateDefaultDisplayNodes()
        self._observers = [self.node.AddObserver(event, self._changed) for event in
                           (slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent,
                            slicer.vtkMRMLMarkupsNode.PointModifiedEvent,
                            slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent)]

    def _changed(self, caller=None, event=None) -> None:
        length = ruler_length_mm(self.node)
        if length is not None:
            self.on_length(self.question_id, length)

    def start_placing(self) -> None:
        """Make the line the active markup and switch the mouse to place mode (inside Slicer)."""
        selection = self.scene.GetNodeByID("vtkMRMLSelectionNodeSingleton")
        interaction = self.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
        if selection is not None:
            selection.SetReferenceActivePlaceNodeClassName("vtkMRMLMarkupsLineNode")
            selection.SetActivePlaceNodeID(self.node.GetID())
        if interaction is not None:
            interaction.SetPlaceModePersistence(0)
            interaction.SetCurrentInteractionMode(interaction.Place)

    def remove(self) -> None:
        """Stop observing and take the line out of the scene."""
        for tag in self._observers:
            self.node.RemoveObserver(tag)
        self._observers = []
        if self.scene.IsNodePresent(self.node):
            self.scene.RemoveNode(self.node)
