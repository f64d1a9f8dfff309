"""The package is layered: a module imports from its own layer or the ones below, never above,
and the folders of one layer import each other one way only (no cycle).

The layers are read from docs/ARCHITECTURE.md, so the drawing and the check are one list. Every
import form counts, at the top of a module or inside a function:

- `import newsrec.x.y`, `from newsrec.x import y`, `from newsrec import x`;
- relative ones (`from ..x import y`, `from . import y`), resolved as Python does: from the
  module's package, `level - 1` packages up, where a package's `__init__.py` *is* its package
  (so `from ..serve import app` in `models/__init__.py` names `newsrec.serve`);
- `importlib.import_module("newsrec.x")` (also `import_module` imported from importlib, under
  any name, and relative names with `__package__`, `__name__` or a literal package) and
  `__import__("newsrec.x")` (with `fromlist` and `level`); such a call whose module name is
  not a string literal is a fault of its own, since no reading of the source can place it;
- attributes of a name bound to the root package: `import newsrec` (or `import newsrec.models`,
  `import newsrec as n`, `n = __import__("newsrec")`) then `newsrec.serve.app`, and
  `getattr(newsrec, "serve")`.

Every `.py` file is checked, private ones too. A room (a first-level module or folder) must be
in the drawing, except the package's own `__init__.py` and first-level `_`-prefixed modules:
those sit in the lowest layer. For `__init__.py` that is Python's rule, not a choice: it runs
before any module of the package, so whatever it imports every layer imports. A private
first-level module has no place in the drawing, so it gets the one every module may import
from. A name imported from the root that is no module or folder (`from newsrec import
__version__`) is one `__init__.py` defines, so it is the lowest layer too.

Why not import-linter's layers contract: it reads the import graph grimp builds, which has the
`import` statements only; `importlib`, `__import__` and attribute chains on the root package
pass it unseen. This checker reads the syntax tree itself. It does not follow `sys.modules`,
`runpy`, `exec` or `import_module` assigned to another name; the package uses none of them. The
checker is tested on planted bad imports, so it cannot pass by seeing nothing.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "newsrec"
RUN_TIME = "a module named at run time"  # what room_imports reports for a name it cannot read


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


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _literal_none_or_empty(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and not node.value


def room_imports(path: Path, package: Path) -> set[str]:
    """The rooms (first-level modules or folders of the package) that `path` imports, any form;
    RUN_TIME among them where it imports a module whose name the source does not spell out."""
    module = path.relative_to(package.parent).with_suffix("").parts  # ("newsrec", "models", "batch")
    here = module[:-1]  # its package: for an __init__.py, the package it is ("newsrec", "models")
    name_of_module = here if module[-1] == "__init__" else module  # its __name__
    top = package.name
    tree = ast.parse(path.read_text())
    import_module_names = {"import_module"} | {
        a.asname
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module == "importlib" and not n.level
        for a in n.names
        if a.name == "import_module" and a.asname
    }
    found: set[str] = set()
    roots: set[str] = set()  # names bound to the root package
    root_calls: set[int] = set()  # the loader calls that return the root package

    def resolve(level: int, name: str | None, base: tuple[str, ...] = here) -> list[str]:
        """`name`, `level` dots up from the package `base`, as Python resolves it; [] past the top."""
        below = name.split(".") if name else []
        if not level:
            return below
        return [*base[: len(base) - level + 1], *below] if level <= len(base) else []

    def add(parts: list[str], names: list[str]) -> None:
        if parts[:1] == [top]:
            found.update(parts[1:2] or names)  # `from newsrec import x`: x is the room

    def loaded(call: ast.Call) -> None:
        """An importlib.import_module or __import__ call: the rooms it imports; is it the root?"""
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in ("import_module", "__import__"):
            called = func.attr  # importlib.import_module, importlib.__import__, builtins.__import__
        elif isinstance(func, ast.Name) and func.id in import_module_names:
            called = "import_module"
        elif isinstance(func, ast.Name) and func.id == "__import__":
            called = "__import__"
        else:
            return
        name = _literal(_argument(call, 0, "name"))
        if name is None:
            found.add(RUN_TIME)
            return
        if called == "__import__":
            level_node, fromlist_node = _argument(call, 4, "level"), _argument(call, 3, "fromlist")
            level = 0 if level_node is None else level_node.value if isinstance(level_node, ast.Constant) else None
            names: list[str | None] = []
            if isinstance(fromlist_node, (ast.List, ast.Tuple)):
                names = [_literal(e) for e in fromlist_node.elts]
            elif fromlist_node is not None and not _literal_none_or_empty(fromlist_node):
                names = [None]  # a fromlist the source does not spell out (an empty or None one is none)
            if not isinstance(level, int) or None in names:
                found.add(RUN_TIME)
                return
            parts = resolve(level, name)
            add(parts, [n for n in names if n])
            if parts[:1] == [top] and (not names or parts == [top]):  # without a fromlist: the top package
                root_calls.add(id(call))
            return
        level = len(name) - len(name.lstrip("."))
        base = here
        if level:
            package_node = _argument(call, 1, "package")
            if isinstance(package_node, ast.Name) and package_node.id in ("__package__", "__name__"):
                base = here if package_node.id == "__package__" else name_of_module
            elif _literal(package_node) is not None:
                base = tuple(str(_literal(package_node)).split("."))
            else:
                found.add(RUN_TIME)
                return
        parts = resolve(level, name[level:] or None, base)
        add(parts, [])
        if parts == [top]:
            root_calls.add(id(call))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                add(parts, [])
                if parts[0] == top and (alias.asname is None or parts == [top]):
                    roots.add(alias.asname or top)
        elif isinstance(node, ast.ImportFrom):
            add(resolve(node.level, node.module), [a.name for a in node.names])
        elif isinstance(node, ast.Call):
            loaded(node)
    for node in ast.walk(tree):  # names bound to the root by a loader call, then their attributes
        if isinstance(node, ast.Assign) and id(node.value) in root_calls:
            roots |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in roots:
            found.add(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            target = _argument(node, 0, "")
            if isinstance(target, ast.Name) and target.id in roots:
                found.add(_literal(_argument(node, 1, "")) or RUN_TIME)
    return found


def layering_faults(package: Path, layers: list[set[str]]) -> list[str]:
    """Imports from a higher layer, rooms outside the drawing, imports the source does not spell
    out, and cycles between the folders of one layer."""
    level = {room: i for i, rooms in enumerate(layers) for room in rooms}
    children = {p.stem if p.is_file() else p.name for p in package.iterdir() if p.suffix == ".py" or p.is_dir()}
    children.discard("__pycache__")

    def placed(room: str) -> str:
        """The room, or `__init__` for a name the package's `__init__.py` defines."""
        return room if room in children else "__init__"

    def layer(room: str) -> int | None:
        """The room's layer; the lowest for `__init__` and first-level private modules."""
        return level.get(room, 0 if room.startswith("_") else None)

    faults, edges = [], set()
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package)
        own = where.parts[0].removesuffix(".py")
        mine = layer(own)
        if mine is None:
            faults.append(f"{where} is in no layer of the drawing")
            continue
        rooms = room_imports(path, package)
        if RUN_TIME in rooms:
            faults.append(f"{where} imports {RUN_TIME}, which the check cannot place")
        for room in {placed(r) for r in rooms - {RUN_TIME}} - {own}:
            theirs = layer(room)
            if theirs is None:
                faults.append(f"{where} imports {room}, which no layer holds")
            elif theirs > mine:
                faults.append(f"{where} imports {room} from a higher layer")
            elif theirs == mine:
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


PLANTED = {
    "models/batch.py": [
        "import newsrec.serve.base",
        "from newsrec.serve import base",
        "from newsrec import serve",
        "from ..serve import base",
        "from ..serve.base import X",
        "from .. import serve",
        "def f():\n    from newsrec.serve.base import X\n",
        # importlib and __import__
        "import importlib\nimportlib.import_module('newsrec.serve.base')",
        "import importlib as il\nil.import_module('newsrec.serve')",
        "from importlib import import_module\nimport_module('newsrec.serve.base')",
        "from importlib import import_module as load\nload('newsrec.serve')",
        "import importlib\nimportlib.import_module('..serve.base', __package__)",
        "import importlib\nimportlib.import_module('...serve', __name__)",
        "import importlib\nimportlib.import_module('.base', package='newsrec.serve')",
        "__import__('newsrec.serve.base')",
        "import builtins\nbuiltins.__import__('newsrec.serve')",
        "__import__('newsrec', fromlist=['serve'])",
        "__import__('newsrec', globals(), None, ('serve',))",
        "__import__('serve.base', globals(), None, ['X'], 2)",
        "__import__('', globals(), None, ['serve'], level=2)",
        # attributes of a name bound to the root package
        "import newsrec\nnewsrec.serve.base.X",
        "import newsrec as n\nn.serve",
        "import newsrec.models\nY = newsrec.serve.base.X",
        "def f():\n    import newsrec\n    return newsrec.serve.base.X\n",
        "import newsrec\ngetattr(newsrec, 'serve')",
        "n = __import__('newsrec.models')\nn.serve.base",
        "import importlib\nn = importlib.import_module('newsrec')\nn.serve",
    ],
    # a package's __init__.py is the package: `..` is its parent
    "models/__init__.py": ["from ..serve import base", "from .. import serve", "from ..serve.base import X"],
    "models/_private.py": ["from newsrec.serve import base", "import newsrec\nnewsrec.serve"],
    # the root's __init__.py and first-level private modules sit in the lowest layer
    "__init__.py": ["from . import serve", "from .serve import base", "import newsrec.serve"],
    "_x.py": ["from .serve import base", "from newsrec import serve"],
}


@pytest.mark.parametrize(("module", "line"), [(m, line) for m, lines in PLANTED.items() for line in lines])
def test_a_planted_upward_import_of_any_form_is_found(toy, module, line):
    pkg, layers = toy
    assert layering_faults(pkg, layers) == []
    (pkg / module).write_text(line + "\n")
    assert layering_faults(pkg, layers) == [f"{module} imports serve from a higher layer"]


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("models/__init__.py", "from . import base\nfrom .base import X\nfrom ..data import base"),
        ("models/batch.py", "from . import base\nfrom newsrec.models.base import X\nimport newsrec\nnewsrec.data.base"),
        ("models/batch.py", "from newsrec import _x\nfrom .. import VERSION\nimport newsrec\nnewsrec.__file__"),
        ("models/batch.py", "import importlib\nimportlib.import_module('json')\n__import__('os.path')"),
        (
            "serve/base.py",
            "from newsrec import models, data\nimport importlib\nimportlib.import_module('.data', 'newsrec')",
        ),
        ("__init__.py", "from . import data\nfrom ._x import Y\nVERSION = 1"),
        ("_x.py", "from .data import base\nY = 1"),
    ],
)
def test_imports_from_the_same_layer_or_below_pass(toy, module, line):
    pkg, layers = toy
    (pkg / "_x.py").write_text("Y = 1\n")
    (pkg / module).write_text(line + "\n")
    assert layering_faults(pkg, layers) == []


@pytest.mark.parametrize(
    "line",
    [
        "import importlib\nimportlib.import_module(name)",
        "from importlib import import_module\nimport_module(f'newsrec.{room}')",
        "import importlib\nimportlib.import_module('..serve', package)",
        "__import__(name)",
        "__import__('newsrec', fromlist=rooms)",
        "import newsrec\ngetattr(newsrec, room)",
    ],
)
def test_an_import_the_source_does_not_spell_out_is_a_fault(toy, line):
    pkg, layers = toy
    (pkg / "models" / "batch.py").write_text(line + "\n")
    assert layering_faults(pkg, layers) == [f"models/batch.py imports {RUN_TIME}, which the check cannot place"]


def test_a_first_level_module_outside_the_drawing_is_a_fault(toy):
    pkg, layers = toy
    (pkg / "extra.py").write_text("X = 1\n")
    (pkg / "models" / "batch.py").write_text("from newsrec import extra\n")
    assert layering_faults(pkg, layers) == [
        "extra.py is in no layer of the drawing",
        "models/batch.py imports extra, which no layer holds",
    ]


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
