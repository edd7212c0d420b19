"""The ``gisfix`` command group: global options, lazy verbs, and error handling.

Verbs are imported only when called so that ``gisfix --help`` stays instant.  Every
:class:`~gisfix.errors.GisfixError` becomes one line on stderr and exit status 1; usage
errors (click's, and :class:`~gisfix.errors.UsageError`) exit with 2; other exceptions
print one line too unless ``-v`` asks for the traceback.  Every warning (gisfix's warning
classes: data problems a user can act on) prints as one line on stderr,
``gisfix: warning: <Class>: <message>``, once per distinct message, unless ``-q``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings

import click

from gisfix._version import __version__
from gisfix.errors import GisfixError, UsageError

#: verb -> (module, function, one-line help). Later issues add theirs here.
VERBS = {
    "info": ("gisfix.cli.info", "info", "Describe a boundary file or a built-up raster."),
    "data": ("gisfix.cli.data", "data", "List or locate the embedded datasets."),
    "demo": ("gisfix.cli.demo", "demo", "Run the offline demo on the embedded data."),
    "builtup": ("gisfix.cli.builtup", "builtup", "Built-up area by unit and epoch."),
    "inequality": ("gisfix.cli.inequality", "inequality",
                   "Interregional inequality of a column (Gini, Theil, spatial Gini...)."),
    "edit": ("gisfix.cli.edit", "edit", "Apply a boundary-edit scenario (TOML)."),
    "diff": ("gisfix.cli.diff", "diff", "Detect the edits between two boundary vintages."),
    "lei": ("gisfix.cli.lei", "lei", "Landscape Expansion Index of new built-up patches."),
    "agglomeration": ("gisfix.cli.agglomeration", "agglomeration",
                      "Agglomeration and urban-form measures by unit."),
    "run": ("gisfix.cli.run", "run",
            "Run the main job on a project file: every measure before and after each edit."),
    "stages": ("gisfix.cli.stages", "stages",
               "Stage of every tracked city (or unit) and period, with its evidence."),
    "did": ("gisfix.cli.did", "did",
            "Difference-in-differences of administrative changes (TWFE, Sun-Abraham, CS)."),
    "events": ("gisfix.cli.events", "events",
               "Event table of administrative changes (code history, vintages, scenarios)."),
}


class LazyGroup(click.Group):
    """A click group that imports each verb's module only when the verb is used."""

    def list_commands(self, ctx):
        return sorted(VERBS)

    def get_command(self, ctx, name):
        if name not in VERBS:
            return None
        module, attr, _ = VERBS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, VERBS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        with warnings.catch_warnings():
            _print_warnings(ctx)
            return self._invoke(ctx)

    def _invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except UsageError as exc:
            _fail(ctx, exc, str(exc), status=2)
        except GisfixError as exc:
            _fail(ctx, exc, str(exc))
        except KeyboardInterrupt:
            click.echo("gisfix: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug or an unexpected library error
            _fail(ctx, exc, f"unexpected {type(exc).__name__}: {exc} (rerun with -v for the "
                  "traceback and report it)")


def _fail(ctx, exc, message, status: int = 1):
    if ctx.obj and ctx.obj.get("verbose", 0) > 0:
        raise exc
    first = " ".join(message.split()) if message else type(exc).__name__
    click.echo(f"gisfix: error: {first}", err=True)
    ctx.exit(status)


def _print_warnings(ctx) -> None:
    """Print every warning raised while a verb runs as one line on stderr (inside a
    ``warnings.catch_warnings()`` block, which restores the previous handler)."""
    from gisfix.errors import GisfixWarning

    seen: set = set()
    warnings.simplefilter("default")
    warnings.simplefilter("always", GisfixWarning)  # deduplicated by message below
    warnings.filterwarnings("ignore", message="Use `@` matmul", category=PendingDeprecationWarning)

    def show(message, category, filename, lineno, file=None, line=None):
        if ctx.obj and ctx.obj.get("quiet"):
            return
        text = " ".join(str(message).split())
        key = (category, text)
        if key in seen:
            return
        seen.add(key)
        click.echo(f"gisfix: warning: {category.__name__}: {text}", err=True)

    warnings.showwarning = show


class _OneLine(logging.Formatter):
    def format(self, record):
        msg = record.getMessage().splitlines()[0] if record.getMessage() else ""
        return f"gisfix: {record.levelname.lower()}: {msg}"


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else
                                         logging.INFO if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    for name in ("gisfix", "py.warnings"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level)
        lg.propagate = False
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    # affine's notice about its own operator, raised inside rasterio: not the user's concern
    warnings.filterwarnings("ignore", message="Use `@` matmul", category=PendingDeprecationWarning)
    warnings.formatwarning = lambda m, c, *a, **k: f"{c.__name__}: {m}"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gisfix")
@click.option("-v", "--verbose", count=True, help="More messages (-vv: debug); tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def cli(ctx, verbose, quiet):
    """gisfix: built-up accounting, agglomeration, diffusion, inequality and boundary edits.

    Results go to files given by -o; existing files are kept unless --overwrite is given.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet
    _setup_logging(verbose, quiet)


def main(argv=None):
    """Console-script entry point."""
    cli.main(args=argv, prog_name="gisfix")


if __name__ == "__main__":  # pragma: no cover
    main()
