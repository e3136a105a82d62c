"""The house keeps its plan: imports flow one way between layers (function-level imports
included), no module imports itself back through others, no module is over 400 lines, and only
the CLI uses click, prints, exits or reads the wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "logtool"

#: Layers from the bottom up; a module may import only from its own layer or those below.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "logtool",
            "data",
            "errors",
            "escape",
            "config",
            "schema",
            "stages",
            "timespec",
            "net",
            "pipeline",
            "progress",
            "generate",
        )
        + ("phones", "convgen", "native", "_native"),
    ),
    ("input", ("linesplit", "inputs", "parsers")),
    ("transform", ("anonymize", "enrich", "detect")),
    ("store", ("store",)),
    ("lifecycle", ("lifecycle",)),
    ("governance", ("governance",)),
    ("review/report", ("review", "report")),
    ("render", ("render",)),
    ("jobs", ("jobs",)),
    ("cli", ("cli", "__main__")),
]
MAX_LINES = 400


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "logtool"
    for i, (_, tops) in enumerate(LAYERS):
        if top in tops:
            return i
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every logtool import in the file, wherever it stands."""
    tree = ast.parse(path.read_text())
    me = module_name(path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "logtool"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = me.split(".")[: -node.level + (1 if path.name == "__init__.py" else 0) or None]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "logtool":
                continue
            out.append((node.lineno, mod))
            for a in node.names:  # ``from logtool.x import y`` may import a submodule y
                if (PACKAGE.parent / (mod.replace(".", "/") + f"/{a.name}.py")).exists():
                    out.append((node.lineno, f"{mod}.{a.name}"))
    return out


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_down(path: Path) -> None:
    me = module_name(path)
    mine = layer_of(me)
    upward = [
        f"line {line}: {me} ({LAYERS[mine][0]}) imports {mod} ({LAYERS[layer_of(mod)][0]})"
        for line, mod in imports(path)
        if layer_of(mod) > mine
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        me = module_name(path)
        graph[me] = {m for _, m in imports(path) if m != me and m in {module_name(p) for p in MODULES}}
    # a package's __init__ importing its own submodules is how packages are built: not a cycle
    for me, deps in graph.items():
        graph[me] = {d for d in deps if not d.startswith(me + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {n} lines (at most {MAX_LINES}): split it"


_BANNED = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"), ("datetime", "today"),
           ("sys", "exit"), ("os", "_exit")}  # fmt: skip


def forbidden(path: Path) -> list[str]:
    """Uses of click, print, exit and the wall clock."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            out += [f"line {node.lineno}: imports {n}" for n in names if n.split(".")[0] == "click"]
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in ("print", "exit", "quit"):
                out.append(f"line {node.lineno}: calls {f.id}()")
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and (f.value.id, f.attr) in _BANNED:
                out.append(f"line {node.lineno}: calls {f.value.id}.{f.attr}()")
    return out


@pytest.mark.parametrize("path", [p for p in MODULES if layer_of(module_name(p)) < len(LAYERS) - 1],
                         ids=lambda p: str(p.relative_to(PACKAGE)))  # fmt: skip
def test_only_the_cli_prints_exits_or_reads_the_clock(path: Path) -> None:
    assert not forbidden(path), "\n".join(forbidden(path))


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The scanners see what they must (a test that cannot fail proves nothing)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import click\ndef f():\n    from datetime import datetime\n    print(datetime.now())\n")
    assert len(forbidden(bad)) == 3
    assert layer_of("logtool.cli.data") > layer_of("logtool.store") > layer_of("logtool.net")


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["status"], ["status", "--format", "json"]])
def test_no_op_commands_start_without_polars(args: list[str], tmp_path: Path) -> None:
    """Start-up of a command with nothing to compute (``status`` of an empty store, the list of
    commands) stays short: it must not load polars or pyarrow (about 0.2 s of imports); the figure is in ``bench/``."""
    import subprocess
    import sys

    from logtool.store import Store

    Store(tmp_path / "s").close()
    code = (
        "import sys\n"
        "from logtool.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in ('polars', 'pyarrow') if m in sys.modules), file=sys.stderr)\n"
    )
    argv = ["logtool", "--store", str(tmp_path / "s"), *args]
    r = subprocess.run([sys.executable, "-c", f"import sys; sys.argv = {argv!r}\n" + code],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "[]", r.stderr


@pytest.mark.parametrize("user", [None, "narenas:2"])
def test_the_cli_gives_polars_allocator_its_setting_before_polars_loads(user: str | None) -> None:
    """jemalloc reads ``_RJEM_MALLOC_CONF`` once, when polars loads, and pyarrow its pool's
    name when it first allocates: the console entry point sets both first (a user's own
    setting wins)."""
    import os
    import subprocess
    import sys

    code = (  # the entry point, with a command that loads nothing
        "import os, sys\n"
        "from logtool.cli import JEMALLOC_CONF, main\n"
        "sys.argv = ['logtool', '--version']\n"
        "try:\n    main()\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print(os.environ.get('_RJEM_MALLOC_CONF'), JEMALLOC_CONF, 'polars' in sys.modules, file=sys.stderr)\n"
        "import pyarrow\n"
        "print(pyarrow.default_memory_pool().backend_name, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL")}
    env |= {"_RJEM_MALLOC_CONF": user, "ARROW_DEFAULT_MEMORY_POOL": "jemalloc"} if user else {}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    got, default, loaded, pool = r.stderr.split()[-4:]
    assert (got, loaded) == (user or default, "False") and default == "narenas:1", r.stderr
    assert pool == ("jemalloc" if user else "system"), r.stderr
