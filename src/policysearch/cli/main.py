"""The entry point: runs a command of :mod:`~policysearch.cli.app` and maps errors to exit statuses.

Exit status: 0 on success (also when the target was not reached); 2 for bad input, an env that
fails, or an OS error on a path the user gave, with a one-line message on stderr; 1 for a bug of
ours (the traceback and a request to report it); 130 on SIGINT and 143 on SIGTERM, with one line.
"""

from __future__ import annotations

import errno
import sys
import traceback

import typer

from .. import __version__
from ..errors import Interrupted, PolicySearchError, described, warnings_on_one_line
from ..run import interrupts
from . import supervisor
from .app import app

#: OS errors that the user's machine or paths cause (exit 2), whatever the path.
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and maps errors to exit codes and one-line messages.

    0 on success; 2 for bad input, an env that fails, or an OS error on a path the user gave; 1
    for a bug of ours (with the traceback); 130 on SIGINT and 143 on SIGTERM.
    """
    # On Ray, the command line runs the command in a child, so that an abrupt end still gets one
    # line (a call with ``argv``, from Python, runs in this process)
    if argv is None and supervisor.wanted(sys.argv[1:]):
        status = supervisor.run(sys.argv[1:])
        if status:
            sys.exit(status)
        return
    supervisor.child_started()
    warnings_on_one_line()
    restore = interrupts.install()
    status = 1
    try:
        status = _run(argv)
    finally:
        restore()
        supervisor.report(status)
    if status:
        sys.exit(status)


def _run(argv: list[str] | None) -> int:
    """Run the command; returns its exit status, having printed the one line that explains it."""
    command = typer.main.get_command(app)
    if _result_lost(sys.argv[1:] if argv is None else [str(a) for a in argv]):
        print("error: standard output is closed: the command's output would be lost", file=sys.stderr)
        return 2
    try:
        supervisor.child_ready()  # a signal the parent passed on while this process started: now
        result = command.main(args=argv, prog_name="policysearch", standalone_mode=False)
    except Interrupted as exc:
        print(exc.line(), file=sys.stderr)
        return exc.exit_status
    except PolicySearchError as exc:  # one line, whatever it quotes (numpy wraps a space's bounds)
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except typer.TyperException as exc:
        hint = _hyperparameter_hint(getattr(exc, "option_name", None), argv)
        if hint is not None:
            print(f"error: {hint}", file=sys.stderr)
        elif type(exc).__name__ == "NoArgsIsHelpError":
            command.main(args=["--help"], prog_name="policysearch", standalone_mode=False)
        else:
            print(f"error: {exc.format_message()}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code)
    except MemoryError as exc:
        detail = f" ({exc})" if str(exc) else ""
        print(f"error: out of memory{detail}; ask for less (fewer sessions or episodes)", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None and exc.errno not in _USER_ERRNOS:
            return _internal_error(exc)
        path = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"error: {path}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        return _internal_error(exc)
    # typer turns a KeyboardInterrupt it sees into exit status 130, returned in this mode
    if result == 130:
        print("interrupted", file=sys.stderr)
    return result if isinstance(result, int) else 0


#: Commands whose result is printed on standard output; the others write files, and speak on stderr.
_PRINTING = ("evaluate", "bandit", "presets")


def _result_lost(args: list[str]) -> bool:
    """Whether the command prints its result on a standard output closed at the start (``>&-``).

    Python then has no ``sys.stdout``, and ``print`` drops what it is given without a word.
    """
    if sys.stdout is not None:
        return False
    command = next((a for a in args if not a.startswith("-")), None)  # None: --version, --help
    return command is None or command in _PRINTING or "--dry-run" in args or "--help" in args


def _hyperparameter_hint(option: str | None, argv: list[str] | None) -> str | None:
    """For an unknown ``--NAME`` that is a hyperparameter: how to give it (``--set NAME=VALUE``)."""
    if not option or not option.startswith("--"):
        return None
    from ..registry import hyperparameter_names

    name = option[2:].replace("-", "_")
    owners = hyperparameter_names().get(name)
    if owners is None:
        return None
    args = sys.argv[1:] if argv is None else [str(a) for a in argv]
    value = "VALUE"
    for i, arg in enumerate(args):
        if arg.startswith(option + "="):
            value = arg.partition("=")[2]
        elif arg == option and i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
    return (
        f"{option} is not an option: {name} is a hyperparameter (of {', '.join(owners)}); "
        f"give it as --set {name}={value}"
    )


def _internal_error(exc: BaseException) -> int:
    """A failure of ours: the traceback, then one line asking for a report; exit status 1."""
    traceback.print_exception(exc)
    print(
        f"internal error: {described(exc)} -- this is a bug in policysearch "
        f"{__version__}; please report it with the traceback above",
        file=sys.stderr,
    )
    return 1
