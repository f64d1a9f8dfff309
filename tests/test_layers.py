"""The package is layered: a module imports from its own layer or the ones below, never above.

Lower layers know nothing of how they are trained, served or driven, so each can be used (and
tested) alone; docs/ARCHITECTURE.md draws the same stack.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "newsrec"
LAYERS = [  # bottom to top
    {"environment", "device", "precision", "stages"},
    {"data"},
    {"encoders"},
    {"models", "evaluation"},
    {"llm", "store"},
    {"training", "config"},
    {"serve", "cli"},
]
LEVEL = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}


def room_of(dotted: str) -> str:
    return dotted.split(".")[1]


def newsrec_imports(path: Path) -> set[str]:
    """Every newsrec module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("newsrec."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("newsrec."))
    return found


def test_every_room_has_a_layer():
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if not p.name.startswith("_")}
    rooms.discard("__pycache__")
    assert rooms == set(LEVEL)


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if own not in LEVEL:
            continue
        upward += [
            f"{path.relative_to(PACKAGE)} -> {m}" for m in newsrec_imports(path) if LEVEL[room_of(m)] > LEVEL[own]
        ]
    assert upward == []
