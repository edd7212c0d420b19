"""The README says what the code does: its verb table, its module tables and its examples.

STYLE.md: "A number the README quotes is the number a test enforces". Here: the verb table
of "The command line" lists exactly the verbs of :data:`gisfix.cli.main.VERBS`; every module
of "How it is built" exists in the repository and every ``gisfix.*`` module of "What it
measures" imports; every ``gisfix ...`` command the README shows (code blocks, the verb
table, inline code) names a verb (and sub-command) that exists, whose ``--help`` runs through
click's CliRunner, and uses only options that verb declares.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from functools import cache
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gisfix.cli.main import VERBS, cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    """Text of the ``## <title>...`` section, up to the next ``## `` heading."""
    m = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert m, f"README has no section '## {title}'"
    return m.group(1)


def _first_cells(section: str) -> list[str]:
    """First cell of every body row of the Markdown tables of a section."""
    cells = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"^\|\s*-", line):
            cells.append(line.split("|")[1].strip())
    return cells


def _ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def test_verb_table_lists_exactly_the_verbs():
    rows = [c for c in _first_cells(_section("The command line")) if c.startswith("`")]
    verbs = [_ticked(c)[0] for c in rows]
    assert len(verbs) == len(set(verbs)), f"a verb is listed twice: {verbs}"
    assert set(verbs) == set(VERBS), (f"README lists {sorted(set(verbs) - set(VERBS))} "
                                      f"not in VERBS; misses {sorted(set(VERBS) - set(verbs))}")


def _built_modules() -> list[str]:
    cells = [c for c in _first_cells(_section("How it is built")) if c != "module"]
    paths = [p for c in cells for p in _ticked(c)]
    assert len(paths) >= 25, "the module table of 'How it is built' looks truncated"
    return paths


@pytest.mark.parametrize("path", _built_modules())
def test_module_table_names_existing_modules(path):
    assert path.startswith("gisfix/"), f"{path}: name modules by their path in the repository"
    target = ROOT / path
    assert target.exists(), f"README's module table names {path}, which does not exist"
    if path.endswith("/"):
        assert target.is_dir(), f"{path} is not a folder"
        if path != "gisfix/templates/":
            assert (target / "__init__.py").exists(), f"{path} is not a package"


def test_module_table_has_no_stale_names():
    text = _section("How it is built")
    for stale in ("graphs.py", "pipeline.py", "gisfix/demo.py", "gisfix/compare.py"):
        assert f"`{stale}`" not in text and f"`gisfix/{stale}`" not in text, stale


def _measured_modules() -> list[str]:
    """The ``gisfix.*`` modules of the theory table (its last column)."""
    rows = [line.split("|") for line in _section("What it measures").splitlines()
            if line.startswith("|") and line.count("|") >= 4]
    mods = {m for row in rows for m in re.findall(r"`(gisfix(?:\.\w+)+)`", row[-2])}
    assert len(mods) >= 15, "the theory table of 'What it measures' looks truncated"
    return sorted(mods)


@pytest.mark.parametrize("module", _measured_modules())
def test_measure_modules_exist(module):
    assert importlib.util.find_spec(module) is not None, (
        f"README's theory table names {module}, which is not a module of gisfix")


def _commands() -> list[str]:
    """Every ``gisfix ...`` command of the README's code blocks, verb table and inline code."""
    commands = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", README, re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("gisfix "):
                commands.append(line)
    for span in re.findall(r"`(gisfix [^`]+)`", README):
        commands.append(span)
    out = []
    for c in commands:
        words = shlex.split(c, comments=True)
        # placeholders (gisfix VERB --help, gisfix ...) are not commands
        if len(words) > 1 and re.match(r"^(-|[a-z])", words[1]):
            out.append(c)
    return sorted(set(out))


COMMANDS = _commands()


def _resolve(words: list[str]):
    """The click command a command line names, the words naming it, and its option names."""
    ctx = click.Context(cli, info_name="gisfix")
    command, path, rest = cli, [], list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"`gisfix {' '.join(path + rest[:1])}`: no such command"
        path.append(rest.pop(0))
        command = sub
    options = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            options.update(param.opts + param.secondary_opts)
    return command, path, rest, options


@cache
def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="gisfix")
    assert result.exit_code == 0, f"gisfix {' '.join(path)} --help: {result.output}"
    return result.output


def test_readme_shows_commands():
    verbs = {shlex.split(c)[1] for c in COMMANDS}
    assert {"run", "demo", "stages", "did", "events", "data"} <= verbs, verbs
    assert any(c.startswith("gisfix data fetch ghsl") for c in COMMANDS)
    assert any(re.match(r"gisfix run \S+\.toml", c) for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_example_command_parses(command):
    words = shlex.split(command, comments=True)[1:]
    global_opts = {"-v", "--verbose", "-q", "--quiet", "--version", "-h", "--help"}
    while words and words[0] in global_opts:
        words.pop(0)
    clicked, path, rest, options = _resolve(words)
    if not path and not rest:  # gisfix --help
        assert "Commands:" in _help(())
        return
    assert path and path[0] in VERBS, f"{command}: unknown verb"
    assert "Usage: gisfix " + " ".join(path) in _help(tuple(path))
    used = [w.split("=")[0] for w in rest if re.match(r"^(--[a-z]|-[a-zA-Z]$)", w)]
    unknown = [w for w in used if w not in options]
    assert not unknown, f"`{command}`: gisfix {' '.join(path)} has no option {unknown}"
    if isinstance(clicked, click.Group):
        assert rest == [] or rest[0] in ("-h", "--help"), f"{command}: names no sub-command"


def test_notebooks_the_readme_lists_exist():
    named = set(re.findall(r"`(notebooks/[^`]+\.ipynb)`", README))
    present = {f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert named == present, (f"README names {sorted(named - present)} that do not exist and "
                              f"misses {sorted(present - named)}")


#: README's demo table row -> the measures of compare.csv it quotes (" / " separates two).
DEMO_ROWS = {"Gini (land-weighted)": ["share_gini"], "Theil T": ["share_theil_t"],
             "Theil T between cantons / within": ["share_theil_t_between",
                                                  "share_theil_t_within"],
             "Moran's I (queen)": ["moran_I"],
             "units with urban share >= 0.3": ["n_units_share_ge_0.3"]}


def test_demo_numbers_are_the_demo_s(demo_output):
    """Every number of the README's demo table is what ``gisfix demo`` writes (4 decimals)."""
    import pandas as pd

    compare = pd.read_csv(demo_output / "compare.csv").set_index("measure")
    header = re.search(r"^\| urban share, 2025 \|(.*)$", README, re.M)
    assert header, "README has no demo table"
    counts = [int(n.replace(",", "")) for n in re.findall(r"\(([\d,]+)\)", header.group(1))]
    assert counts == [int(compare.loc["n_units", "base"]), int(compare.loc["n_units", "value"])]
    for label, measures in DEMO_ROWS.items():
        row = re.search(rf"^\| {re.escape(label)} \|(.*)\|(.*)\|$", README, re.M)
        assert row, f"README's demo table has no row '{label}'"
        for column, cell in zip(("base", "value"), row.groups(), strict=True):
            quoted = [v.strip() for v in cell.split("/")]
            for measure, text in zip(measures, quoted, strict=True):
                value = float(compare.loc[measure, column])
                digits = len(text.split(".")[1]) if "." in text else 0
                shown = f"{value:.{digits}f}"
                assert shown == text, f"README says {label} {column} = {text}; the demo: {value}"
