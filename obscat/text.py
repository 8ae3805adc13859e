"""Wording shared by messages: counted nouns."""

__all__ = ["plural"]


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``"1 group"``, ``"2 groups"`` (``nouns``: the plural when it is not ``noun + "s"``)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"
