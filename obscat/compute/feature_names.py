"""The IRF feature names obscat computes (importable without the science stack, for the CLI's help)."""

__all__ = ["FEATURES", "DEFAULT_FEATURES"]

#: name -> (unit, HDU type it needs)
FEATURES = {
    "edisp-res": ("", "edisp"),
    "edisp-bias": ("", "edisp"),
    "psf-radius": ("deg", "psf"),
    "aeff": ("m2", "aeff"),
    "aeff-max": ("m2", "aeff"),
    "energy-threshold": ("TeV", "aeff"),
    "bkg-rate": ("s-1 MeV-1 sr-1", "bkg"),
    "rad-max": ("deg", "rad_max"),
}
#: Gammapy's ``get_irfs_features`` default (``names=None``).
DEFAULT_FEATURES = ("edisp-bias", "edisp-res", "psf-radius")
