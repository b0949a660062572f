"""Command-line plumbing shared by `python -m keras_resnet_paper.train` and the example scripts.

absl's own `app.run` answers `--help` with exit status 1 and lists only the flags of the module it
thinks is main; a bad flag is a "FATAL Flags parsing error" and status 1. Here:

- `--help` (`-h`, `--helpshort`, `--helpfull`) prints the command's doc and every flag of the
  command (name, help, default) and exits 0;
- a command-line mistake (an unknown flag, a bad value, a `UsageError` or `ValueError` raised by
  the command before it starts work) is one line, `PROG: error: ...`, and exit status 2;
- a data set or weights file that cannot be fetched (`keras_resnet_paper.errors`) is one line and
  exit status 2 as well: the message says what could not be fetched and what to do instead.

    from keras_resnet_paper import cli
    cli.run(main, doc=__doc__)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from absl import app, flags
from absl import logging as absl_logging

from keras_resnet_paper.errors import ResourceUnavailableError
from keras_resnet_paper.terminal import PlainLogFormatter

__all__ = ["UsageError", "USAGE_EXIT", "run", "call", "help_text", "fail"]

#: Exit status of a command-line mistake or of something that could not be fetched.
USAGE_EXIT = 2
_HELP = ("--help", "-h", "-?", "--helpshort", "--helpfull")


class UsageError(ValueError):
    """A mistake in the command line, found by the command itself: printed as one line, exit 2."""


def _prog(argv: Sequence[str]) -> str:
    name = os.path.basename(argv[0]) if argv else "keras_resnet_paper"
    return (
        "python -m keras_resnet_paper.train"
        if name in ("train.py", "__main__.py") and "keras_resnet_paper" in argv[0]
        else name
    )


def fail(prog: str, message: object, status: int = USAGE_EXIT) -> NoReturn:
    """Print `PROG: error: MESSAGE` (first line only) on stderr and exit with `status`."""
    first = str(message).strip().splitlines()[0] if str(message).strip() else type(message).__name__
    print(f"{prog}: error: {first}", file=sys.stderr, flush=True)
    sys.exit(status)


def _command_flags(modules: Sequence[str]) -> list[flags.Flag]:
    """The flags defined by the command's own modules (not absl's or TensorFlow's), in order."""
    by_module = flags.FLAGS.flags_by_module_dict()
    keys = [*modules, "__main__", sys.argv[0] if sys.argv else ""]
    seen, out = set(), []
    for key in keys:
        for flag in by_module.get(key, []):
            if flag.name not in seen:
                seen.add(flag.name)
                out.append(flag)
    return out


def _describe(flag: flags.Flag) -> str:
    kind = "" if flag.flag_type() == "bool" else f"={flag.flag_type().upper()}"
    default = flag.default_as_str if flag.default is not None else "none"
    name = f"--[no]{flag.name}" if flag.flag_type() == "bool" else f"--{flag.name}{kind}"
    return f"  {name}\n      {flag.help} (default: {default})"


def help_text(prog: str, doc: str | None, modules: Sequence[str]) -> str:
    """The `--help` page: usage line, the command's doc, then every flag of the command."""
    lines = [f"usage: {prog} [flags]", ""]
    if doc:
        lines += [doc.strip(), ""]
    lines.append("flags:")
    lines += [_describe(f) for f in _command_flags(modules)]
    lines += ["", "  --help  show this help and exit"]
    return "\n".join(lines)


def _parser(prog: str, doc: str | None, modules: Sequence[str]) -> Callable[[list[str]], list[str]]:
    def parse(argv: list[str]) -> list[str]:
        args = argv[1:]
        if "--" in args:
            args = args[: args.index("--")]
        if any(a in _HELP for a in args):
            print(help_text(prog, doc, modules), flush=True)
            sys.exit(0)
        try:
            return flags.FLAGS(argv)
        except flags.Error as err:
            fail(prog, err)

    return parse


def _guarded(
    main: Callable[[list[str]], int | None], prog: str, plain_logs: bool = False
) -> Callable[[list[str]], NoReturn]:
    """`main` with its mistakes turned into one line and exit 2, and its status into `sys.exit`;
    with `plain_logs` (a command's own process) its log lines as the user reads them (`terminal`)."""

    def guarded(argv: list[str]) -> NoReturn:
        if plain_logs:  # after absl's app.run has made its handler: replace its prefix, not its levels
            absl_logging.get_absl_handler().setFormatter(PlainLogFormatter())
        try:
            status = main(argv)
        except (UsageError, ResourceUnavailableError) as err:
            fail(prog, err)
        except flags.Error as err:
            fail(prog, err)
        sys.exit(status or 0)

    return guarded


def run(
    main: Callable[[list[str]], int | None],
    *,
    doc: str | None = None,
    modules: Sequence[str] = (),
    prog: str | None = None,
) -> NoReturn:
    """Run `main(argv)` as a command: flags parsed, `--help`, one-line errors, its exit status.

    `modules` names the modules whose flags `--help` lists besides the script's own (a wrapper
    such as examples/train_cifar10.py lists `keras_resnet_paper.train`'s).
    """
    prog = prog or _prog(sys.argv)
    app.run(_guarded(main, prog, plain_logs=True), flags_parser=_parser(prog, doc, modules))


def call(
    main: Callable[[list[str]], int | None],
    argv: Sequence[str],
    *,
    doc: str | None = None,
    modules: Sequence[str] = (),
    prog: str | None = None,
) -> int:
    """What `run` does with the command line `argv`, in this process, returning the exit status.

    The flags are reset to their defaults, `argv` is parsed and `main` runs exactly as under `run`
    (`--help`, one-line mistakes, exit statuses); only absl's once-per-process start-up
    (`app.run`: logging set-up, flag registration) is left out, so one process can run many
    command lines (the tests run batches of command-line mistakes this way). The flags keep the
    values of `argv` afterwards, as after `run`.
    """
    argv = list(argv)
    prog = prog or _prog(argv)
    flags.FLAGS.unparse_flags()
    try:
        _guarded(main, prog)(_parser(prog, doc, modules)(argv))
    except SystemExit as stop:
        code = stop.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0  # not reached: `guarded` always exits
