"""Python packages the synthesis engine needs inside Slicer, installed only after the user agrees.

torch comes from the PyTorch extension (``PyTorchUtils``, a declared dependency of this extension), which
picks the build that fits the GPU driver and asks before installing. The other packages are installed with
``slicer.packaging.pip_ensure`` (Slicer ≥ 5.12; it asks itself) or, on older Slicer, ``slicer.util.pip_install``
after a confirmation. Nothing is installed at import time.
"""

from __future__ import annotations

from importlib import metadata

#: Minimum torch version of the engine (MONAI 1.3+ needs torch ≥ 1.13; our models are tested on 2.x).
TORCH_REQUIREMENT = ">=2.0"
#: Packages the engine imports besides torch (most ship with Slicer; only missing ones are installed).
REQUIREMENTS = ("monai>=1.3", "safetensors>=0.4", "jsonschema>=4.0", "scipy>=1.10", "pydicom>=2.4",
                "SimpleITK>=2.2")


def missing_requirements(requirements=REQUIREMENTS) -> list[str]:
    """The requirement strings that the current Python environment does not satisfy."""
    from packaging.requirements import Requirement

    missing = []
    for text in requirements:
        requirement = Requirement(text)
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(text)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(text)
    return missing


def ensure_dependencies(requester: str = "DigitalContrast") -> None:
    """Inside Slicer: make torch and :data:`REQUIREMENTS` available, asking before anything is installed.

    Raises RuntimeError when the user declines or the PyTorch extension is missing.
    """
    import slicer

    try:
        import PyTorchUtils
    except ModuleNotFoundError:
        raise RuntimeError("DigitalContrast needs the PyTorch extension. Install 'PyTorch' from the Extensions "
                           "Manager and restart Slicer.") from None
    torch_logic = PyTorchUtils.PyTorchUtilsLogic()
    if not torch_logic.torchInstalled():
        if torch_logic.installTorch(askConfirmation=True, torchVersionRequirement=TORCH_REQUIREMENT) is None:
            raise RuntimeError("PyTorch is needed to compute digital contrast; it was not installed.")
    missing = missing_requirements()
    if not missing:
        return
    version = (int(slicer.app.majorVersion), int(slicer.app.minorVersion))
    if version >= (5, 12):
        import slicer.packaging

        slicer.packaging.pip_ensure(missing, requester=requester)  # shows its own confirmation dialog
        return
    if not slicer.util.confirmOkCancelDisplay(
            f"DigitalContrast needs these Python packages: {', '.join(missing)}. Install them now? "
            "This changes Slicer's Python environment and may take a few minutes.",
            f"{requester} - Install Python packages"):
        raise RuntimeError("Installation of the Python packages DigitalContrast needs was declined.")
    slicer.util.pip_install(missing)
