"""One place that turns a domain error into `error: <message>` and exit code 2, for every command.

A domain error is bad input, not a bug: a missing or unreadable file, a malformed MIND file,
a wrong setting or value, an LLM that cannot be reached. Anything else keeps its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from newsrec.data.mind import MindFormatError
from newsrec.llm.backends import LLMError
from newsrec.training.config import ConfigError

__all__ = ["CommandError", "DOMAIN_ERRORS", "ReportingGroup"]

logger = logging.getLogger(__name__)
_stderr = Console(stderr=True, soft_wrap=True, highlight=False)


class CommandError(Exception):
    """A command cannot do what was asked; the message says what to give instead."""


DOMAIN_ERRORS = (CommandError, ConfigError, MindFormatError, LLMError, OSError, ValueError)


class ReportingGroup(TyperGroup):
    """The `newsrec` command group: a domain error in any command ends as one `error:` line, exit code 2."""

    def invoke(self, ctx: Any) -> Any:  # Any: the click Context typer is built on (vendored in newer typer)
        try:
            return super().invoke(ctx)
        except DOMAIN_ERRORS as e:
            logger.debug("the error's traceback:", exc_info=True)  # shown with --verbose
            _stderr.print(Text.assemble(("error:", "bold red"), " ", str(e)))
            raise typer.Exit(code=2) from None
