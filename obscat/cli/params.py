"""Command-line values converted without importing Pydantic.

typer converts every parameter through a Pydantic ``TypeAdapter``: importing Pydantic
costs about 0.1 s, a third of a read command's start-up budget. For the types obscat's
commands take (str, bool, int, float, Enum and lists of them) a value that converts
plainly is converted here, to what typer would return; anything else (a bad value, a
value out of bounds, a Path or another type) goes to typer's own conversion, so its
error messages are unchanged. :func:`install` is called by the command groups on the
parameters of the command about to be parsed.
"""

from __future__ import annotations

import enum
import re
from typing import Any, get_args, get_origin

__all__ = ["install"]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class _Unsure(Exception):
    """The value is left to typer's conversion."""


def _in_bounds(number: int | float, info) -> int | float:
    if (info.min is not None and number < info.min) or (info.max is not None and number > info.max) or info.clamp:
        raise _Unsure
    return number


def _convert(annotation: Any, info, value: Any) -> Any:
    """``value`` as typer converts it to ``annotation``, or :class:`_Unsure`."""
    if info.parser is not None:
        raise _Unsure
    if annotation is str and isinstance(value, str):
        return value
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is int and isinstance(value, str) and _INT.fullmatch(value):
        return _in_bounds(int(value), info)
    if annotation is int and type(value) is int:
        return _in_bounds(value, info)
    if annotation is float and isinstance(value, str) and _FLOAT.fullmatch(value):
        return _in_bounds(float(value), info)
    if annotation is float and type(value) in (int, float):
        return _in_bounds(float(value), info)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum) and info.case_sensitive:
        if isinstance(value, annotation):
            return value
        for member in annotation:
            if member.value == value:
                return member
    raise _Unsure


class _PlainParam:
    """Stands in for typer's runtime parameter: plain values here, the rest to typer's."""

    def __init__(self, descriptor) -> None:
        self.descriptor = descriptor

    def coerce(self, value: Any, param, ctx) -> Any:
        multiple = param.multiple or param.nargs == -1
        annotation, info = self.descriptor.annotation, self.descriptor.parameter_info
        try:
            if value is None:
                return () if multiple else None
            if multiple and get_origin(annotation) is list and isinstance(value, (list, tuple)):
                (item,) = get_args(annotation)
                return [_convert(item, info, v) for v in value]
            if not multiple:
                return _convert(annotation, info, value)
        except _Unsure:
            pass
        from typer._coercion import build_runtime_param

        return build_runtime_param(self.descriptor).coerce(value, param=param, ctx=ctx)


def install(params) -> None:
    """Give typer parameters not yet converted the plain conversion (a no-op for parameters
    of other classes, or of a typer without runtime parameters)."""
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and getattr(param, "_runtime_param", False) is None:
            param._runtime_param = _PlainParam(descriptor)
