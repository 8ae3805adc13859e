"""The parameters a feature set is computed with: checked once, hashed to name the set."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ..errors import ParameterError, did_you_mean
from .feature_names import DEFAULT_FEATURES, FEATURES

__all__ = ["FeatureParams", "feature_params"]


@dataclass(frozen=True)
class FeatureParams:
    """Everything a feature value depends on.

    ``position`` (ICRS deg) measures each observation's offset as its
    separation from the pointing, clamped to the largest offset of its PSF
    and energy dispersion (as Gammapy); ``fixed_offset_deg`` uses one offset
    for all; neither means offset 0 (the pointing).  Map IRFs (ground arrays)
    are evaluated at ``position`` itself, by default at the PSF map's centre.
    """

    energy_true_tev: float
    features: tuple[str, ...] = DEFAULT_FEATURES
    position: tuple[float, float] | None = None
    fixed_offset_deg: float | None = None
    containment_fraction: float = 0.68
    aeff_threshold_fraction: float = 0.1
    #: "gammapy": analytic PSFs (psf_king, psf_3gauss) on Gammapy's radius grid;
    #: "exact": closed form / root (see ``docs/parity.md`` for the difference).
    psf_containment: str = "gammapy"

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ParameterError(f"unknown feature {unknown[0]!r}{did_you_mean(unknown[0], FEATURES)} "
                                 f"(known: {', '.join(FEATURES)})")  # fmt: skip
        if not self.features:
            raise ParameterError("`features` is empty: name at least one feature")
        if not (math.isfinite(self.energy_true_tev) and self.energy_true_tev > 0):
            raise ParameterError(f"`energy_true` must be a positive energy, not {self.energy_true_tev} TeV")
        if self.position is not None and self.fixed_offset_deg is not None:
            raise ParameterError("give `position` or `fixed_offset`, not both")
        if self.fixed_offset_deg is not None and not (math.isfinite(self.fixed_offset_deg) and self.fixed_offset_deg >= 0):
            raise ParameterError(f"`fixed_offset` must be a non-negative angle, not {self.fixed_offset_deg} deg")
        if self.position is not None:
            ra, dec = self.position
            if not (math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90):
                raise ParameterError(f"`position` ({ra}, {dec}) deg is not a valid ICRS position")
        if self.psf_containment not in ("gammapy", "exact"):
            raise ParameterError(f"`psf_containment` must be 'gammapy' or 'exact', not {self.psf_containment!r}")
        for name in ("containment_fraction", "aeff_threshold_fraction"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ParameterError(f"`{name}` must be between 0 and 1, not {value}")

    def canonical(self) -> dict:
        out = asdict(self)
        out["features"] = sorted(self.features)
        out["position"] = list(self.position) if self.position else None
        return out

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.canonical(), sort_keys=True).encode()).hexdigest()


def feature_params(energy_true, *, features: Sequence[str] | None = None, position=None, fixed_offset=None,
                   containment_fraction: float = 0.68, aeff_threshold_fraction: float = 0.1,
                   psf_containment: str = "gammapy") -> FeatureParams:  # fmt: skip
    """:class:`FeatureParams` from astropy types: ``energy_true`` a Quantity or text such as ``"1 TeV"``,
    ``position`` a SkyCoord (any frame), ``fixed_offset`` an angle (Quantity, or a number of degrees)."""
    from astropy import units as u

    try:
        energy = u.Quantity(energy_true).to_value(u.TeV)
    except (TypeError, ValueError, u.UnitsError):
        raise ParameterError(f"`energy_true` {str(energy_true)!r} is not an energy (e.g. '1 TeV')") from None
    try:
        offset = None if fixed_offset is None else u.Quantity(fixed_offset, u.deg).to_value(u.deg)
    except (TypeError, ValueError, u.UnitsError):
        raise ParameterError(f"`fixed_offset` {str(fixed_offset)!r} is not an angle") from None
    radec = None
    if position is not None:
        try:
            icrs = position.icrs
        except AttributeError:
            raise ParameterError(f"`position` must be a SkyCoord, not {type(position).__name__}") from None
        radec = (float(icrs.ra.deg), float(icrs.dec.deg))
    return FeatureParams(
        energy_true_tev=energy, features=tuple(features or DEFAULT_FEATURES), position=radec,
        fixed_offset_deg=offset, containment_fraction=containment_fraction,
        aeff_threshold_fraction=aeff_threshold_fraction, psf_containment=psf_containment,
    )  # fmt: skip
