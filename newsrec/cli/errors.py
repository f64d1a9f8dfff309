"""One place that ends every command alike: its elapsed time, a domain error as one line, Ctrl-C.

A domain error is bad input, not a bug: a missing or unreadable file, a malformed MIND file,
a wrong setting or value, an LLM that cannot be reached. It ends as `error: <message>`, exit
code 2; anything else keeps its traceback. Ctrl-C ends with one line saying so (and what was
kept, where the command says: `newsrec train` names its checkpoint), exit code 130. Every
command that ran says how long it took, on stderr (stdout keeps only its result, e.g. --json).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from newsrec.cli.console import notices
from newsrec.data.mind import MindFormatError
from newsrec.llm.backends import LLMError
from newsrec.progress import duration
from newsrec.training.config import ConfigError

__all__ = ["CommandError", "DOMAIN_ERRORS", "ReportingGroup"]

logger = logging.getLogger(__name__)
INTERRUPTED = 130  # the shell's code for a process ended by SIGINT (128 + 2)


class CommandError(Exception):
    """A command cannot do what was asked; the message says what to give instead."""


DOMAIN_ERRORS = (CommandError, ConfigError, MindFormatError, LLMError, OSError, ValueError)


class ReportingGroup(TyperGroup):
    """The `newsrec` command group: how every command ends (see the module's docstring).

    A command may re-raise Ctrl-C as `KeyboardInterrupt("what was kept ...")`: that sentence
    follows the `interrupted` line. `--help` and bad options end before a command runs: no time."""

    def invoke(self, ctx: Any) -> Any:  # Any: the click Context typer is built on (vendored in newer typer)
        started = time.monotonic()
        try:
            result = super().invoke(ctx)
        except DOMAIN_ERRORS as e:
            logger.debug("the error's traceback:", exc_info=True)  # shown with --verbose
            _say(("error:", "bold red"), " ", str(e))
            _say(f"failed after {duration(time.monotonic() - started)}")
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt as e:
            kept = f": {e}" if str(e) else ""
            _say(("interrupted", "bold yellow"), f" after {duration(time.monotonic() - started)}{kept}")
            raise typer.Exit(code=INTERRUPTED) from None
        _say(f"done in {duration(time.monotonic() - started)}")
        return result


def _say(*parts: str | tuple[str, str]) -> None:
    """A line on stderr, taken as it is (a path's brackets are not rich markup)."""
    notices.print(Text.assemble(*parts))
