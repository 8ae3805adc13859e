"""The grouping layer in one import: groupings of selected observations, stored as
``grouping``/``group_member`` rows.

:mod:`.split` (``split`` at :class:`Median`/:class:`Quantiles`/a value, ``bins``, ``by``),
:mod:`.cluster` (hierarchical clustering on IRF features), :mod:`.stored` (writing, reading back
with :func:`stored_grouping`, listing, renaming, deleting), :mod:`.points` (split points).
"""

from .cluster import MAX_CLUSTER_OBS, MAX_DISTANCE_MATRIX_BYTES, cluster, linkage_tree, standardized
from .points import Median, Quantiles, parse_at
from .split import bins, by, split
from .stored import (
    GroupingResult,
    GroupingSummary,
    MemberValues,
    StoredGrouping,
    delete,
    grouping_rows,
    groupings,
    member_values,
    members_query,
    rename,
    stored_grouping,
)

__all__ = ["Median", "Quantiles", "parse_at", "split", "bins", "by", "cluster", "linkage_tree", "standardized",
           "MAX_CLUSTER_OBS", "MAX_DISTANCE_MATRIX_BYTES", "GroupingResult", "GroupingSummary", "StoredGrouping",
           "MemberValues", "member_values", "members_query", "stored_grouping", "groupings", "grouping_rows", "delete", "rename"]  # fmt: skip
