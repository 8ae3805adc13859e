"""Grouping algorithms, stored groupings, their export and plots."""

__all__ = ["Median", "Quantiles"]


def __getattr__(name: str):
    # split points load with the grouping code, on first use (commands that do not group start faster)
    if name in __all__:
        from . import points

        return getattr(points, name)
    raise AttributeError(f"module 'obscat.group' has no attribute {name!r}")
