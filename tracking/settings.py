"""The one settings convention: frozen pydantic models, each field documented and validated once.

Every settings class of orbitlink (tracker, correlator, pipeline, simulator, stream service)
derives from :class:`Settings`:

* each field is ``name: type = Field(default, <constraints>, description="...")``; units are in
  the name (``_deg``, ``_s``), the description says what the value means and why the default;
* ranges are Field constraints (``ge``, ``gt``, ``le``, ``lt``); relations between fields are
  ``model_validator(mode="after")`` methods; nothing else validates;
* an unknown field is an error naming it (a typo in a settings file cannot pass silently);
* instances are frozen: change a copy with :meth:`Settings.replace`.

:func:`settings_table` renders a class as the Markdown table the docs embed, and
:func:`update_settings_tables` rewrites every such table in a document, so the defaults in the
docs are generated from the code (``make docs``) and a test checks they still are.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import describe_validation_error

__all__ = [
    "Settings",
    "SettingsError",
    "load_settings_file",
    "settings_table",
    "update_settings_tables",
]

S = TypeVar("S", bound="Settings")


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the file and the field."""


class Settings(BaseModel):
    """Base of every settings class (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True)

    def replace(self: S, **changes: Any) -> S:
        """A validated copy with ``changes`` applied."""
        return type(self).model_validate({**dict(self), **changes})

    @classmethod
    def from_mapping(cls: type[S], values: Mapping[str, Any], *, source: str = "settings") -> S:
        """Settings from a mapping (a parsed JSON object); :class:`SettingsError` naming the
        field and ``source`` for anything wrong."""
        if not isinstance(values, Mapping):
            raise SettingsError(
                f"{source}: settings must be a JSON object, got {type(values).__name__}"
            )
        try:
            return cls.model_validate(dict(values))
        except ValidationError as error:
            _, reason = describe_validation_error(error)
            raise SettingsError(f"{source}: {reason}") from None


def load_settings_file(cls: type[S], path: str | Path) -> S:
    """``cls`` from a JSON file holding the fields to change (the rest keep their defaults)."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path}: not JSON ({error})") from None
    return cls.from_mapping(data, source=str(path))


# ------------------------------------------------------------------------------ docs tables


def _default_text(value: Any) -> str:
    if isinstance(value, Settings):
        return "(see below)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], Settings):
        return f"{len(value)} entries"
    if isinstance(value, Path):
        return f"`{value}`"
    if isinstance(value, str):
        return f"`{json.dumps(value)}`"
    return "`None`" if value is None else str(value)


def settings_table(cls: type[Settings], *, only: tuple[str, ...] | None = None) -> str:
    """A Markdown table of ``cls``'s fields: name, default and description."""
    rows = ["| setting | default | what |", "|---|---|---|"]
    for name, info in cls.model_fields.items():
        if only is not None and name not in only:
            continue
        default = (
            "(required)"
            if info.is_required()
            else _default_text(info.get_default(call_default_factory=True))
        )
        description = " ".join((info.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{name}` | {default} | {description} |")
    return "\n".join(rows)


_TABLE = re.compile(
    r"(<!-- settings-table: (?P<target>[\w.]+) -->\n)(?P<body>.*?)"
    r"(<!-- end settings-table -->)",
    re.DOTALL,
)


def _resolve(target: str) -> type[Settings]:
    module, _, name = target.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Settings)):
        raise SettingsError(f"{target} is not a Settings class")
    return cls


def update_settings_tables(text: str) -> str:
    """``text`` with every ``<!-- settings-table: module.Class -->`` ... ``<!-- end
    settings-table -->`` block regenerated from the code."""
    return _TABLE.sub(
        lambda m: m.group(1) + settings_table(_resolve(m.group("target"))) + "\n" + m.group(4), text
    )
