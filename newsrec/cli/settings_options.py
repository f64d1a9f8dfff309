"""The `newsrec train` setting options, made from `TrainConfig`'s fields: nothing to keep in step by hand.

`settings_options(command)` gives a typer command one option per field (`user_encoder` ->
`--user-encoder`, bools as `--stem/--no-stem`, `news_fields` comma-separated), plus `--config`
and `--set`, and calls it with the finished `settings: TrainConfig` (see `load_config`).
A field's flag is its name, nothing else; an older spelling (`DEPRECATED_FLAGS`) is still read,
with a warning naming the flag to use, and `--help` marks it deprecated.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

import typer
from pydantic.fields import FieldInfo
from rich.markup import escape

from newsrec.models.recommender import RecommenderSettings
from newsrec.models.spec import ModelSpec
from newsrec.training.config import ConfigError, TrainConfig, load_config

__all__ = ["settings_options"]

DEPRECATED_FLAGS = {"use_popularity": "--popularity/--no-popularity"}  # bool field -> its old spelling, to remove
MODEL_PANEL, TRAINING_PANEL = "Model settings (saved with the model)", "Training settings"
_KEYWORD = inspect.Parameter.KEYWORD_ONLY

SOURCES = [
    inspect.Parameter(
        "config",
        _KEYWORD,
        annotation=Path | None,
        default=typer.Option(
            None, exists=True, dir_okay=False, help="YAML/JSON file of settings; --set and flags override it"
        ),
    ),
    inspect.Parameter(
        "set_",
        _KEYWORD,
        annotation=list[str] | None,
        default=typer.Option(
            None,
            "--set",
            help="any setting as NAME=VALUE, e.g. --set tuning=lora; overrides --config, flags override it; repeat",
        ),
    ),
]


def settings_options(command: Callable[..., None]) -> Callable[..., None]:
    """Replace `command`'s `settings: TrainConfig` parameter by --config, --set and one option per field."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "settings"]
    fields = TrainConfig.model_fields

    @functools.wraps(command)
    def with_settings(**values: Any) -> None:
        config, pairs = values.pop("config"), values.pop("set_")
        flags = {name: _from_flag(fields[name], values.pop(name)) for name in fields}
        for name in DEPRECATED_FLAGS:
            flags[name] = _from_deprecated_flag(name, values.pop(_deprecated(name)), flags[name])
        command(**values, settings=load_config(config, pairs=pairs or (), **flags))

    options = [_option(name, field) for name, field in fields.items()]
    parameters = own + SOURCES + options + [_deprecated_option(name) for name in DEPRECATED_FLAGS]
    with_settings.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # what typer reads
    with_settings.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_settings


def _option(name: str, field: FieldInfo) -> inspect.Parameter:
    """The typer option of one field: None unless given, so --set and the config file can fill it."""
    flag_type = _flag_type(field.annotation)
    flag = _flag(name)
    option = typer.Option(
        None,
        f"{flag}/--no-{flag[2:]}" if flag_type is bool else flag,
        help=_help(flag, field),
        rich_help_panel=_panel(name),
    )
    return inspect.Parameter(name, _KEYWORD, annotation=flag_type | None, default=option)


def _panel(name: str) -> str:
    saved_with_the_model = name in ModelSpec.model_fields or name in RecommenderSettings.model_fields
    return MODEL_PANEL if saved_with_the_model else TRAINING_PANEL


def _deprecated(name: str) -> str:
    return f"deprecated_{name}"


def _deprecated_option(name: str) -> inspect.Parameter:
    """The old spelling of a bool field's flag, as its own option: still read, marked deprecated."""
    flag = _flag(name)
    option = typer.Option(
        None,
        DEPRECATED_FLAGS[name],
        help=f"deprecated: use {flag}/--no-{flag[2:]} (this spelling will be removed)",
        rich_help_panel=_panel(name),
    )
    return inspect.Parameter(_deprecated(name), _KEYWORD, annotation=bool | None, default=option)


def _from_deprecated_flag(name: str, old: bool | None, new: bool | None) -> bool | None:
    """The field's value from its flag or its old spelling (with a warning); both given must agree."""
    if old is None:
        return new
    used = _spelling(DEPRECATED_FLAGS[name].split("/")[0], old)
    if new is not None and new != old:
        raise ConfigError(f"{used} (deprecated) contradicts {_spelling(_flag(name), new)}: give only the latter")
    typer.echo(f"warning: {used} is deprecated and will be removed: use {_spelling(_flag(name), old)}", err=True)
    return old


def _spelling(flag: str, value: bool) -> str:
    """How a bool flag is written to give `value`: --stem or --no-stem."""
    return flag if value else f"--no-{flag[2:]}"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _flag_type(annotation: Any) -> Any:
    """The type typer reads a flag as: the field's own (typer checks Literal choices), a list as one str."""
    if _is_list(annotation):
        return str
    args = get_args(annotation)
    if type(None) in args:  # X | None
        return _flag_type(next(a for a in args if a is not type(None)))
    return annotation


def _help(flag: str, field: FieldInfo) -> str:
    """The field's description and default; a list field's choices too (typer shows a Literal's itself)."""
    text = field.description or ""
    if _is_list(field.annotation):
        choices = get_args(get_args(field.annotation)[0])
        text += "; comma-separated" + (f", from: {', '.join(choices)}" if choices else "")
    default = _shown_default(flag, field.default)
    return text + (escape(f" [default: {default}]") if default else "")  # escape: help text is rich markup


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list


def _shown_default(flag: str, default: Any) -> str:
    """The default as --help shows it: `nrms`, `title,abstract`, `no-stem`; "" for None."""
    if isinstance(default, bool):
        return flag[2:] if default else f"no-{flag[2:]}"
    if isinstance(default, list):
        return ",".join(map(str, default))
    return "" if default is None else str(default)


def _from_flag(field: FieldInfo, value: Any) -> Any:
    """A flag's value as the field takes it: "title,abstract" -> ["title", "abstract"]."""
    if value is not None and _is_list(field.annotation):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
