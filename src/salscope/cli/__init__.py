"""The ``salscope`` command line: a thin shell over the Python API.

Each sub-command lives in its own module of this package and exposes
``register(app: typer.Typer) -> None``; the list below says which are loaded.
Errors derived from :class:`salscope.errors.SalscopeError` are printed as one
clear line and exit with status 2.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys

import typer

from salscope import __version__
from salscope.errors import SalscopeError

try:  # typer >= 0.25 carries its own click; older ones raise click's exceptions, which subclass it there
    from typer.exceptions import TyperException
except ImportError:  # pragma: no cover - older typer
    from click import ClickException as TyperException

# Sub-command modules, in the order they appear in --help.
_SUBCOMMANDS: list[str] = [
    "data",
    "evaluate",
    "popout",
    "train",
    "predict",
    "dissect",
    "compare",
    "study",
    "models",
]

app = typer.Typer(
    name="salscope",
    help="Build deep visual saliency models and open them up (He et al., CVPR 2019).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"salscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """salscope: saliency models, metrics, neuron analysis and the paper's study."""


for _name in _SUBCOMMANDS:
    importlib.import_module(f"salscope.cli.{_name}").register(app)


_OS_FIXES = {
    errno.ENOSPC: "free some disk space or pass another --out",
    errno.EDQUOT: "free some disk space or pass another --out",
    errno.EFBIG: "the file is larger than this file system or process allows; pass another --out",
    errno.EACCES: "check the permissions, or pass another --out",
    errno.EPERM: "check the permissions, or pass another --out",
    errno.EROFS: "the file system is read-only; pass another --out",
    errno.ENOTDIR: "a path component is a file, not a folder; pass another --out",
    errno.EISDIR: "a folder stands where a file is expected; pass a file path",
    errno.EEXIST: "a file stands where a folder is expected; pass another --out",
}


def _debug() -> bool:
    return os.environ.get("SALSCOPE_DEBUG", "").lower() not in ("", "0", "false", "no")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``salscope`` console script.

    Bad input ends with one line (``error: …``) and exit status 2; so does a
    file-system failure (full disk, read-only or missing folder, a file where a
    folder should be), naming the path. ``SALSCOPE_DEBUG=1`` shows the full
    traceback of those too; an unexpected bug always shows one.
    """
    try:
        app(args=argv, standalone_mode=False)
    except SalscopeError as exc:
        if _debug():
            raise
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        return 2
    except OSError as exc:
        if _debug() or exc.errno not in _OS_FIXES:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        typer.secho(f"error: could not write or read{where}: {exc.strerror}; {_OS_FIXES[exc.errno]} "
                    "(SALSCOPE_DEBUG=1 shows the traceback)", fg=typer.colors.RED, err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc}", err=True)
        return int(getattr(exc, "exit_code", 2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
