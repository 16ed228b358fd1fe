"""The Slicer package of the extension, simulated: which files the CMakeLists install where, and whether
everything the DigitalContrast module reaches for at run time is among them.

Slicer's ``package_python_extension.py`` needs Slicer's CMake folders, which we do not have; this test
evaluates the CMakeLists the way ``slicerMacroBuildScriptedModule`` / ``ctkMacroCompilePythonScript``
install files (each script and resource at its path relative to the source folder, all modules into the one
``qt-scripted-modules`` folder) and checks the resulting tree.
"""

from __future__ import annotations

import ast
import re

import pytest

from .conftest import REPO

MODULE = REPO / "DigitalContrast"


def _expand(text: str, variables: dict) -> list[str]:
    out = []
    for token in re.findall(r'"[^"]*"|\S+', text):
        token = token.strip('"')
        match = re.fullmatch(r"\$\{(\w+)\}", token)
        if match:
            out += variables.get(match.group(1), [])
            continue
        for name, value in variables.items():
            token = token.replace("${" + name + "}", value[0] if len(value) == 1 else ";".join(value))
        out.append(token)
    return [t for t in out if t]


def installed_files(folder) -> dict[str, str]:
    """{path under qt-scripted-modules: source path relative to the repository} for one CMakeLists."""
    text = re.sub(r"#[^\n]*", "", (REPO / folder / "CMakeLists.txt").read_text())
    variables = {"CMAKE_CURRENT_SOURCE_DIR": [str(REPO / folder)]}
    for command, body in re.findall(r"(\w+)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text):
        if command == "set":
            name, *rest = body.split(None, 1)
            variables[name] = _expand(rest[0] if rest else "", variables)
        elif command == "list":
            words = _expand(body, variables)
            if words[:1] == ["TRANSFORM"] and words[2] == "PREPEND":
                variables[words[1]] = [words[3] + v for v in variables[words[1]]]
        elif command in ("slicerMacroBuildScriptedModule", "ctkMacroCompilePythonScript"):
            words = _expand(body, variables)
            source_dir = REPO / folder
            if "SOURCE_DIR" in words:
                source_dir = (REPO / folder / "..").resolve() if words[words.index("SOURCE_DIR") + 1].endswith("/..") \
                    else source_dir
            files, section = {}, None
            for word in words:
                if word in ("SCRIPTS", "RESOURCES"):
                    section = word
                elif word.isupper() and not word.endswith((".py", ".png", ".ui", ".json")):
                    section = None
                elif section:
                    for item in word.split(";"):
                        files[item] = str((source_dir / item).relative_to(REPO))
            return files
    if "EXTENSION_RESOURCE_FILES" in variables:  # Resources/: shipped models go inside the core package
        return {f"NetZeroAICT/{f}": f"{folder}/{f}" for f in variables["EXTENSION_RESOURCE_FILES"]
                if f.startswith("Models/")}
    raise AssertionError(f"{folder}/CMakeLists.txt installs nothing")


@pytest.fixture(scope="module")
def tree():
    subdirs = re.findall(r"add_subdirectory\((\w+)\)", (REPO / "CMakeLists.txt").read_text())
    assert subdirs.index("DigitalContrast") > subdirs.index("NetZeroAICT")
    tree, owners = {}, {}
    for folder in subdirs:
        for installed, source in installed_files(folder).items():
            assert installed not in tree, f"{installed} is installed by both {owners[installed]} and {folder}"
            tree[installed], owners[installed] = source, folder
    return tree


def test_every_installed_file_exists_and_every_module_file_is_installed(tree):
    for installed, source in tree.items():
        assert (REPO / source).is_file(), f"{source} is listed but missing"
    module_files = {str(p.relative_to(MODULE)) for p in MODULE.rglob("*")
                    if p.is_file() and p.name != "CMakeLists.txt" and "__pycache__" not in p.parts}
    installed_sources = {str((REPO / s).relative_to(MODULE)) for s in tree.values() if s.startswith("DigitalContrast/")}
    assert module_files == installed_sources


def test_module_resources_have_module_names(tree):
    """Both modules' Resources/ merge into one installed folder, so every file there carries its module's name."""
    for installed, source in tree.items():
        if installed.startswith("Resources/") and source.startswith("DigitalContrast/"):
            assert "DigitalContrast" in installed.rsplit("/", 1)[-1], installed


def _module_python_files():
    return [MODULE / "DigitalContrast.py", *sorted((MODULE / "DigitalContrastLib").glob("*.py"))]


def test_everything_the_module_imports_from_the_extension_is_installed(tree):
    for path in _module_python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                    node.module.split(".")[0] in ("NetZeroAICT", "DigitalContrastLib"):
                base = node.module.replace(".", "/")
                candidates = [f"{base}.py", f"{base}/__init__.py"]
                assert any(c in tree for c in candidates), f"{path.name} imports {node.module}, which is not installed"
                for alias in node.names:  # "from package import module" needs that module installed
                    sub = f"{base}/{alias.name}.py"
                    if (REPO / tree.get(f"{base}/__init__.py", "-")).exists() and (REPO / sub).exists():
                        assert sub in tree, sub


def test_resource_paths_the_module_uses_are_installed(tree):
    text = (MODULE / "DigitalContrast.py").read_text()
    for relative in re.findall(r'resourcePath\("([^"]+)"\)', text):
        assert f"Resources/{relative}" in tree, relative
    for name in re.findall(r'"(DigitalContrast\w*\.png)"', text):
        assert f"Resources/Icons/{name}" in tree, name
    assert "Resources/Icons/DigitalContrast.png" in tree, "Slicer shows Resources/Icons/<Module>.png as the module icon"


def test_module_icon_is_128_square():
    from PIL import Image

    with Image.open(MODULE / "Resources" / "Icons" / "DigitalContrast.png") as icon:
        assert icon.size == (128, 128)


def test_shipped_models_are_installed_where_the_engine_looks_first(tree):
    from NetZeroAICT.indications import INDICATIONS

    for indication in INDICATIONS:
        for name in ("model.json", "model.safetensors"):
            assert f"NetZeroAICT/Models/{indication}/{name}" in tree, (indication, name)
