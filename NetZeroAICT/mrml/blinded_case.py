"""Loading a case for a reader under its pseudonymous code, and checking the scene reveals nothing else.

A blinded reader must not learn from Slicer which case, which patient or which modality (real or synthetic) they
are reading. Slicer shows node names (Data module, view annotations), node attributes and storage-node file
names (Save dialog), so a case is loaded here without any of them carrying more than its code:

* the image is read by the core's reader into a :class:`~NetZeroAICT.volume.Volume` (float32 HU: real and
  synthetic look the same in memory) and put into a new node named by the code, with no attributes copied and
  no storage node (so no file name is kept in the scene);
* :func:`scene_leaks` lists every name, attribute, description or file name in the scene that contains a
  forbidden term (case ids, patient ids, synthetic markers).
"""

from __future__ import annotations

import re
from pathlib import Path

import slicer

from ..volume_io import read_volume
from .volumes import volume_to_node

#: Words that would tell a reader an image is synthetic or real (matched as whole words, any case).
MODALITY_MARKERS = ("synthetic", "synth", "digital contrast", "digitalcontrast", "netzeroaict", "generated",
                    "fake", "real", "real_cta", "synthetic_cta", "ai", "model", "derived", "secondary")
#: Node attribute name prefix the case nodes carry (the code only).
CODE_ATTRIBUTE = "ReaderStudy.code"


def load_blinded_case(path: str | Path, code: str, scene=None):
    """Load the image at ``path`` into a new scalar volume node named ``code`` and return the node.

    The node's only attribute is ``ReaderStudy.code`` = ``code``; it has no storage node.
    """
    scene = scene or slicer.mrmlScene
    volume = read_volume(path)
    volume.metadata.clear()
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", code)
    # the display node first, with automatic window/level off: the hanging protocol sets it, and Slicer's
    # automatic one would scan every voxel (seconds for a 512×512×400 CT)
    display = scene.AddNewNodeByClass("vtkMRMLScalarVolumeDisplayNode")
    display.SetAutoWindowLevel(False)
    display.SetAndObserveColorNodeID("vtkMRMLColorTableNodeGrey")
    node.SetAndObserveDisplayNodeID(display.GetID())
    volume_to_node(volume, scene, node=node)
    for name in list(node.GetAttributeNames() or ()):
        node.RemoveAttribute(name)
    node.SetAttribute(CODE_ATTRIBUTE, code)
    node.SetDescription("")
    return node


def unload_case(node, scene=None) -> None:
    """Remove a case node from the scene with its display nodes (and a 3D rendering's property and ROI nodes)."""
    scene = scene or slicer.mrmlScene
    displays = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
    companions = []
    for display in displays:
        if display is not None and display.IsA("vtkMRMLVolumeRenderingDisplayNode"):
            companions += [display.GetVolumePropertyNode(), display.GetROINode(), display.GetShaderPropertyNode()]
    scene.RemoveNode(node)
    for other in displays + companions:
        if other is not None and scene.IsNodePresent(other):
            scene.RemoveNode(other)


def _texts(node) -> list[tuple[str, str]]:
    """(what, text) pairs a person could see for one node."""
    texts = [("name", node.GetName() or ""), ("description", node.GetDescription() or "")]
    for name in node.GetAttributeNames() or ():
        texts.append((f"attribute {name}", f"{name}={node.GetAttribute(name)}"))
    if node.IsA("vtkMRMLStorageNode"):
        texts.append(("file name", node.GetFileName() or ""))
        for i in range(node.GetNumberOfFileNames()):
            texts.append(("file name", node.GetNthFileName(i) or ""))
    if node.IsA("vtkMRMLSubjectHierarchyNode"):  # the Data module's tree (patients, studies, series)
        import vtk

        items = vtk.vtkIdList()
        node.GetItemChildren(node.GetSceneItemID(), items, True)
        for index in range(items.GetNumberOfIds()):
            item = items.GetId(index)
            texts.append(("subject hierarchy item", node.GetItemName(item) or ""))
            for name in node.GetItemAttributeNames(item) or ():
                texts.append((f"subject hierarchy attribute {name}", f"{name}={node.GetItemAttribute(item, name)}"))
    return texts


def _matches(term: str, text: str) -> bool:
    term, text = term.lower(), text.lower()
    if not term:
        return False
    return re.search(r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])", text) is not None


def scene_leaks(forbidden_terms, scene=None, markers=MODALITY_MARKERS) -> list[str]:
    """Every place in the scene where a forbidden term or a modality marker shows, as readable lines.

    Args:
        forbidden_terms: case ids, patient ids, file stems, … (matched as whole words, any case).
        markers: words that reveal the modality (default :data:`MODALITY_MARKERS`).

    Returns: ``["<node class> <node id>: <what> contains <term>: <text>", …]``; empty when nothing leaks.
    """
    scene = scene or slicer.mrmlScene
    terms = [str(t) for t in forbidden_terms if str(t).strip()] + list(markers)
    leaks = []
    for i in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(i)
        if node.IsA("vtkMRMLColorNode"):
            continue  # Slicer's built-in colour tables, the same in every scene
        for what, text in _texts(node):
            for term in terms:
                if _matches(term, text):
                    leaks.append(f"{node.GetClassName()} {node.GetID()}: {what} contains {term!r}: {text!r}")
    return leaks
