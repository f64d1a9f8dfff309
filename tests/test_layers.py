"""The package is layered: a module imports from its own layer or the ones below, never above,
and the folders of one layer import each other one way only (no cycle).

The layers are read from docs/ARCHITECTURE.md, so the drawing and the check are one list. Every
import form counts: `import newsrec.x.y`, `from newsrec.x import y`, `from newsrec import x`,
and relative ones (`from ..x import y`), at the top of a module or inside a function. The
checker is tested on planted bad imports, so it cannot pass by seeing nothing.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "newsrec"


def layers_from_architecture(doc: Path = ROOT / "docs" / "ARCHITECTURE.md") -> list[set[str]]:
    """The '## Layers' drawing, top to bottom, as sets of rooms, returned bottom to top."""
    block = doc.read_text().split("## Layers", 1)[1].split("```")[1]
    layers: list[set[str]] = []
    continued = False
    for line in block.splitlines():
        if not line.strip() or line.startswith("  "):  # empty, or a description running on
            continue
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        rooms = {n.strip() for n in names.split(",") if n.strip()}
        if continued:
            layers[-1] |= rooms
        else:
            layers.append(rooms)
        continued = names.endswith(",")
    return layers[::-1]


def room_imports(path: Path, package: Path) -> set[str]:
    """The rooms (first-level modules or folders of the package) that `path` imports, any form."""
    module = path.relative_to(package.parent).with_suffix("").parts  # ("newsrec", "models", "batch")
    name = package.name
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name.split(".") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, `level - 1` folders up
                base = list(module[: len(module) - node.level])
                if path.name == "__init__.py":
                    base = list(module[: len(module) - node.level + 1])
            else:
                base = []
            parts = base + (node.module.split(".") if node.module else [])
            targets = [[*parts, a.name] for a in node.names] if len(parts) == 1 else [parts]
        else:
            continue
        found |= {t[1] for t in targets if len(t) > 1 and t[0] == name}
    return found


def layering_faults(package: Path, layers: list[set[str]]) -> list[str]:
    """Imports from a higher layer, and cycles between the folders of one layer."""
    level = {room: i for i, rooms in enumerate(layers) for room in rooms}
    faults, edges = [], set()
    for path in sorted(package.rglob("*.py")):
        own = path.relative_to(package).parts[0].removesuffix(".py")
        if own not in level:
            continue
        for room in room_imports(path, package) - {own}:
            if room not in level:
                faults.append(f"{path.relative_to(package)} imports {room}, which no layer holds")
            elif level[room] > level[own]:
                faults.append(f"{path.relative_to(package)} imports {room} from a higher layer")
            elif level[room] == level[own]:
                edges.add((own, room))
    faults += [f"cycle between folders of one layer: {' -> '.join(c)}" for c in _cycles(edges)]
    return faults


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    found = []

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == path[0]:
                found.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:  # each cycle once, from its smallest room
                walk(nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, [start])
    return found


def test_every_room_has_a_layer():
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if not p.name.startswith("_")}
    rooms.discard("__pycache__")
    assert rooms == set().union(*layers_from_architecture())


def test_the_package_keeps_its_layers():
    assert layering_faults(PACKAGE, layers_from_architecture()) == []


@pytest.fixture
def toy(tmp_path):
    """A package laid out like newsrec: data below models below serve; models and evaluation share a layer."""
    pkg = tmp_path / "newsrec"
    for room in ("data", "models", "evaluation", "serve"):
        (pkg / room).mkdir(parents=True)
        (pkg / room / "__init__.py").write_text("")
        (pkg / room / "base.py").write_text("X = 1\n")
    (pkg / "__init__.py").write_text("")
    return pkg, [{"data"}, {"models", "evaluation"}, {"serve"}]


@pytest.mark.parametrize(
    "line",
    [
        "import newsrec.serve.base",
        "from newsrec.serve import base",
        "from newsrec import serve",
        "from ..serve import base",
        "from ..serve.base import X",
        "def f():\n    from newsrec.serve.base import X\n",
    ],
)
def test_a_planted_upward_import_of_any_form_is_found(toy, line):
    pkg, layers = toy
    assert layering_faults(pkg, layers) == []
    (pkg / "models" / "batch.py").write_text(line + "\n")
    assert layering_faults(pkg, layers) == ["models/batch.py imports serve from a higher layer"]


def test_a_planted_cycle_within_a_layer_is_found(toy):
    pkg, layers = toy
    (pkg / "models" / "batch.py").write_text("from newsrec.evaluation import base\nfrom . import base\n")
    assert layering_faults(pkg, layers) == []  # one way is allowed; its own room is no import
    (pkg / "evaluation" / "report.py").write_text("from ..models.batch import base\n")
    assert layering_faults(pkg, layers) == ["cycle between folders of one layer: evaluation -> models -> evaluation"]


def test_the_layers_are_read_from_the_drawing(tmp_path):
    doc = tmp_path / "A.md"
    doc.write_text(
        "## Layers\n\n```\n serve, cli     wire\n models,        the\n evaluation     more\n   goes on\n data  x\n```\n"
    )
    assert layers_from_architecture(doc) == [{"data"}, {"models", "evaluation"}, {"serve", "cli"}]
