"""Scalar features of one IRF at one true energy and offset: pure numpy.

The definitions follow Gammapy 2.1's ``get_irfs_features`` to the last
digits (bin centres, the 1e-8 kernel threshold, the up-sampled containment
grid); ``REFERENCE_GAMMAPY.md`` sections 5a and 5b spell them out.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .irf import Irf

__all__ = ["edisp_moments", "psf_containment_radius", "analytic_psf_radius", "aeff_at_edges", "energy_threshold",
           "value_at", "background_rate"]  # fmt: skip

KERNEL_THRESHOLD = 1e-8
RAD_UPSAMPLING = 20


def _lerp(grid: np.ndarray, x: float) -> tuple[int, float]:
    """Lower index and weight of linear interpolation (extrapolating), as scipy's RegularGridInterpolator."""
    if len(grid) == 1:
        return 0, 0.0
    i = int(np.clip(np.searchsorted(grid, x) - 1, 0, len(grid) - 2))
    return i, (x - grid[i]) / (grid[i + 1] - grid[i])


def _inside(grid: np.ndarray, x: float, edges: np.ndarray | None = None) -> bool:
    """Within the axis bounds Gammapy masks by: the bin ``edges`` (both ends
    included), or for a node axis half a bin beyond the outer nodes; a
    single-node axis (e.g. the one offset bin of a point-like IRF) is constant."""
    if edges is not None:
        return bool(edges[0] <= x <= edges[-1])
    if len(grid) == 1:
        return True
    return grid[0] - 0.5 * (grid[1] - grid[0]) <= x <= grid[-1] + 0.5 * (grid[-1] - grid[-2])


def _along(values: np.ndarray, grid: np.ndarray, x: float, axis: int) -> np.ndarray:
    """Linear interpolation of ``values`` along ``axis`` at ``x`` (extrapolating)."""
    i, t = _lerp(grid, x)
    lo = np.take(values, i, axis=axis)
    if len(grid) == 1:
        return lo
    return lo * (1.0 - t) + np.take(values, i + 1, axis=axis) * t


def _log_energy(irf: Irf, energy_tev: float) -> tuple[np.ndarray, float]:
    """The IRF's ln(true-energy) nodes and ln(energy_tev), checked to be within its bounds."""
    axis = irf.axis("energy_true")
    ln_e = np.log(axis.nodes)
    inside = _inside(axis.nodes, energy_tev, axis.edges) if axis.edges is not None else _inside(ln_e, np.log(energy_tev))
    if energy_tev <= 0 or not inside:
        raise InputError(f"{irf.where}: true energy {energy_tev:g} TeV is outside the IRF range")
    return ln_e, float(np.log(energy_tev))


def _offset_inside(irf: Irf, offset_deg: float) -> bool:
    axis = irf.axis("offset")
    return _inside(axis.nodes, offset_deg, axis.edges)


def _true_energy_bin(irf: Irf, energy_tev: float) -> int:
    edges = irf.edges("energy_true")
    i = int(np.digitize(energy_tev, edges)) - 1
    if not 0 <= i < len(edges) - 1:
        raise InputError(f"{irf.where}: true energy {energy_tev:g} TeV is outside the IRF range "
                         f"[{edges[0]:g}, {edges[-1]:g}) TeV")  # fmt: skip
    return i


def edisp_moments(irf: Irf, energy_tev: float, offset_deg: float) -> tuple[float, float]:
    """``(edisp-res, edisp-bias)``: relative width and bias of the reconstructed energy.

    The migration density of the true-energy bin holding ``energy_tev`` is
    interpolated linearly in offset, normalised, turned into an energy
    dispersion kernel on the IRF's own true-energy binning (entries below
    1e-8 dropped), and its first two moments are taken over the reco-bin
    geometric centres: ``res = std / E*``, ``bias = (mean - E*) / E*`` with
    ``E*`` the centre of the true-energy bin.
    """
    energy = irf.axis("energy_true")
    migra = irf.edges("migra")
    offset = irf.axis("offset").nodes
    i = _true_energy_bin(irf, energy_tev)
    reco = irf.edges("energy_true")
    if not _offset_inside(irf, offset_deg):
        return np.nan, np.nan
    density = np.clip(_along(irf.data[i], offset, offset_deg, axis=1), 0.0, None)
    width = np.diff(migra)
    norm = np.sum(density * width)
    if norm <= 0:  # Gammapy makes a kernel row out of 0/0 here; its bias and resolution mean nothing
        raise InputError(f"{irf.where}: no migration probability at {energy_tev:g} TeV (true-energy bin "
                         f"[{reco[i]:.6g}, {reco[i + 1]:.6g}) TeV), offset {offset_deg:g} deg")  # fmt: skip
    cdf = np.concatenate([[0.0], np.cumsum(density / norm * width)])
    e_star = energy.nodes[i]
    kernel = np.clip(np.diff(np.interp(reco / e_star, migra, cdf)), 0.0, None)
    kernel[kernel < KERNEL_THRESHOLD] = 0.0
    total = kernel.sum()
    if total <= 0:
        raise InputError(f"{irf.where}: the energy dispersion kernel is empty at {energy_tev:g} TeV, "
                         f"offset {offset_deg:g} deg")  # fmt: skip
    centres = np.sqrt(reco[:-1] * reco[1:])
    mean = np.sum(kernel * centres) / total
    var = np.sum(kernel * (centres - mean) ** 2) / total
    return float(np.sqrt(var) / e_star), float((mean - e_star) / e_star)


def psf_containment_radius(irf: Irf, energy_tev: float, offset_deg: float, fraction: float) -> float:
    """Radius (deg) containing ``fraction`` of the PSF (``psf_table``).

    The cumulative containment at each rad bin's right edge is interpolated
    linearly in (ln E, offset, rad) and evaluated at the midpoints of every
    rad bin split in 20; the radius is the first midpoint closest to
    ``fraction`` (no root finding, as in Gammapy).
    """
    ln_e, ln_energy = _log_energy(irf, energy_tev)
    offset = irf.axis("offset").nodes
    rad = irf.edges("rad")
    if not _offset_inside(irf, offset_deg):
        return np.nan
    centres, widths = 0.5 * (rad[:-1] + rad[1:]), np.diff(rad)
    cumulative = np.cumsum(2 * np.pi * centres * widths * irf.data, axis=-1) * (np.pi / 180) ** 2
    at = _along(_along(cumulative, ln_e, ln_energy, axis=0), offset, offset_deg, axis=0)
    if not np.any(at > 0):
        raise InputError(f"{irf.where}: the PSF is zero at {energy_tev:g} TeV, offset {offset_deg:g} deg")
    fine = np.linspace(rad[:-1], rad[1:], RAD_UPSAMPLING + 1, axis=1)
    query = (0.5 * (fine[:, :-1] + fine[:, 1:])).ravel()
    right = rad[1:]
    containment = np.clip(np.interp(query, right, at), 0.0, None)
    # np.interp clamps outside the nodes; Gammapy extrapolates linearly, then
    # zeroes points beyond half a bin.
    below = query < right[0]
    containment[below] = np.clip(at[0] + (query[below] - right[0]) * (at[1] - at[0]) / (right[1] - right[0]), 0, None)
    above = query > right[-1]
    containment[above] = np.clip(at[-1] + (query[above] - right[-1]) * (at[-1] - at[-2]) / (right[-1] - right[-2]), 0, None)
    outside = (query < right[0] - 0.5 * (right[1] - right[0])) | (query > right[-1] + 0.5 * (right[-1] - right[-2]))
    containment[outside] = 0.0
    return _closest(query, containment, fraction, irf, energy_tev, offset_deg)


def _closest(radii: np.ndarray, containment: np.ndarray, fraction: float, irf: Irf, energy_tev: float,
             offset_deg: float) -> float:  # fmt: skip
    """The first radius whose containment is closest to ``fraction`` (Gammapy's rule); an
    error if ``fraction`` is never reached (Gammapy returns the radius of the peak then)."""
    if containment.max() < fraction:
        raise InputError(f"{irf.where}: the PSF contains at most {containment.max():.4g} within "
                         f"{radii[-1]:.4g} deg at {energy_tev:g} TeV, offset {offset_deg:g} deg, "
                         f"not the fraction {fraction:g}")  # fmt: skip
    return float(radii[np.argmin(np.abs(containment - fraction))])


#: Gammapy's radius grid for analytic PSFs (``RAD_AXIS_DEFAULT``: 66 bins to 0.66 deg,
#: each split in 20): the midpoints of 1320 equal bins.
_RAD_EDGES = np.linspace(0.0, 0.66, 66 * RAD_UPSAMPLING + 1)
ANALYTIC_RAD_GRID = 0.5 * (_RAD_EDGES[:-1] + _RAD_EDGES[1:])


def analytic_psf_radius(irf: Irf, energy_tev: float, offset_deg: float, fraction: float, exact: bool = False) -> float:
    """Radius (deg) containing ``fraction`` of a ``psf_king`` or ``psf_3gauss`` PSF.

    The parameters are interpolated linearly in (ln E, offset) between bin
    centres and clipped at 0, as Gammapy does.  By default the radius is
    Gammapy 2.1's ``containment_radius``: the point of :data:`ANALYTIC_RAD_GRID`
    whose containment is closest to ``fraction`` (so quantised to 0.0005 deg).
    ``exact`` gives the exact radius instead: closed form for King
    (``σ √(2γ((1 − f)^(1/(1−γ)) − 1))``), root finding for the three Gaussians.
    """
    ln_e, ln_energy = _log_energy(irf, energy_tev)
    offset = irf.axis("offset").nodes
    if not _offset_inside(irf, offset_deg):
        return np.nan
    params = np.clip(_along(_along(irf.data, ln_e, ln_energy, axis=1), offset, offset_deg, axis=1), 0.0, None)
    if irf.hdu_class == "psf_king":
        gamma, sigma = params
        if not (gamma > 1 and sigma > 0):
            raise InputError(f"{irf.where}: King PSF needs GAMMA > 1 and SIGMA > 0, got {gamma:g}, {sigma:g}")
        if exact:
            return float(sigma * np.sqrt(2 * gamma * ((1 - fraction) ** (1 / (1 - gamma)) - 1)))
        grid = ANALYTIC_RAD_GRID
        containment = 1 - (1 + grid**2 / (2 * gamma * sigma**2)) ** (1 - gamma)
        return _closest(grid, containment, fraction, irf, energy_tev, offset_deg)
    _, sigma1, ampl2, sigma2, ampl3, sigma3 = params
    sigmas = np.array([sigma1, sigma2, sigma3])
    weights = np.array([1.0, ampl2, ampl3]) * sigmas**2
    if not (np.all(sigmas[weights != 0] > 0) and weights.sum() > 0):
        raise InputError(f"{irf.where}: the triple-Gaussian PSF has no positive width at {energy_tev:g} TeV")
    weights = weights / weights.sum()
    widths = np.where(sigmas > 0, sigmas, 1.0)

    def contained(r):
        return np.sum(weights[:, None] * -np.expm1(-0.5 * (np.atleast_1d(r)[None, :] / widths[:, None]) ** 2), axis=0)

    if not exact:
        return _closest(ANALYTIC_RAD_GRID, contained(ANALYTIC_RAD_GRID), fraction, irf, energy_tev, offset_deg)
    from scipy.optimize import brentq

    return float(brentq(lambda r: contained(r)[0] - fraction, 0.0, 50 * sigmas.max(), xtol=1e-12, rtol=1e-13))


def _interpolated(irf: Irf, energies: np.ndarray, offset_deg: float, log_values: bool = False) -> np.ndarray:
    """An (energy, offset) IRF at ``energies`` (TeV) and one offset, as Gammapy's
    ``IRF.evaluate``: linear in (ln E, offset) between bin centres, extrapolating,
    values in log scale if ``log_values``, clipped at 0, and NaN outside the
    axis bounds (where Gammapy fills 0)."""
    axis = irf.axis("energy_true")
    values = _log_of(irf) if log_values else irf.data
    at_offset = _along(values, irf.axis("offset").nodes, offset_deg, axis=1)
    ln_e = np.log(axis.nodes)
    x = np.log(energies)
    if len(ln_e) == 1:
        out = np.full(len(x), at_offset[0])
    else:
        i = np.clip(np.searchsorted(ln_e, x) - 1, 0, len(ln_e) - 2)
        t = (x - ln_e[i]) / (ln_e[i + 1] - ln_e[i])
        out = at_offset[i] * (1.0 - t) + at_offset[i + 1] * t
    if log_values:
        out = np.exp(out)
        out[np.abs(out) - np.finfo(float).tiny <= np.finfo(float).tiny] = 0.0
    out = np.clip(out, 0.0, None)
    inside = (energies >= axis.edges[0]) & (energies <= axis.edges[-1]) if axis.edges is not None else np.ones(len(x), bool)
    out[~inside | (not _offset_inside(irf, offset_deg))] = np.nan
    return out


def _log_of(irf: Irf) -> np.ndarray:
    """ln of the values as Gammapy's log-scale interpolation takes it: in the file's
    float type (float32: about 1e-7 relative), zeros clipped to that type's tiny."""
    values = irf.file_values()
    return np.log(np.clip(values, np.finfo(values.dtype).tiny, None)).astype(np.float64)


def value_at(irf: Irf, energy_tev: float, offset_deg: float, log_values: bool = False) -> float:
    """An (energy, offset) IRF (aeff_2d, bkg_2d, rad_max_2d) at one point, as
    Gammapy's ``IRF.evaluate`` (see :func:`_interpolated`)."""
    _log_energy(irf, energy_tev)
    return float(_interpolated(irf, np.array([energy_tev]), offset_deg, log_values)[0])


def background_rate(irf: Irf, energy_tev: float, offset_deg: float) -> float:
    """Background rate (s⁻¹ MeV⁻¹ sr⁻¹) at ``energy_tev`` and ``offset_deg``, as
    ``Background2D.evaluate(energy, offset)`` or ``Background3D.evaluate(energy,
    fov_lon=offset, fov_lat=0)``: linear in ln E and the spatial axes between bin
    centres, on the logarithm of the rate."""
    if irf.hdu_class == "bkg_2d":
        return value_at(irf, energy_tev, offset_deg, log_values=True)
    ln_e, ln_energy = _log_energy(irf, energy_tev)
    lon, lat = irf.axis("fov_lon"), irf.axis("fov_lat")
    if not (_inside(lon.nodes, offset_deg, lon.edges) and _inside(lat.nodes, 0.0, lat.edges)):
        return np.nan
    values = _log_of(irf)
    rate = np.exp(_along(_along(_along(values, ln_e, ln_energy, 0), lon.nodes, offset_deg, 0), lat.nodes, 0.0, 0))
    return float(rate) if abs(rate) - np.finfo(float).tiny > np.finfo(float).tiny else 0.0


def aeff_at_edges(irf: Irf, offset_deg: float) -> np.ndarray:
    """Effective area (m²) at every true-energy bin edge at ``offset_deg``: Gammapy's
    ``aeff.evaluate(offset=offset, energy_true=aeff.axes["energy_true"].edges)``."""
    return _interpolated(irf, irf.edges("energy_true"), offset_deg)


def energy_threshold(irf: Irf, offset_deg: float, fraction: float) -> float:
    """Gammapy's ``SafeMaskMaker`` "aeff-max" threshold on DL3 IRFs: the lowest
    true-energy bin edge where the effective area (:func:`aeff_at_edges`) exceeds
    ``fraction`` of its maximum."""
    area = aeff_at_edges(irf, offset_deg)
    peak = np.max(area)
    if not peak > 0:  # NaN outside the IRF's offsets, or no area: Gammapy raises (min of no edge)
        return np.nan
    return float(irf.edges("energy_true")[np.argmax(area > fraction * peak)])
