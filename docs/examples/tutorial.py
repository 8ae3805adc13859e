"""Gammapy's observation-clustering tutorial through obscat's Python API.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

from astropy import units as u
from astropy.coordinates import SkyCoord

from obscat import Catalog

cat = Catalog()  # $OBSCAT_DB_URL, else sqlite:///obscat.db
cat.ingest("$GAMMAPY_DATA/hess-dl3-dr1", name="hess")

# The tutorial's selection, 2 deg around PKS 2155-304 (Gammapy's select_observations dict)
selection = dict(type="sky_circle", frame="icrs", lon="329.71693826 deg", lat="-30.2255 deg", radius="2 deg")
table = cat.select(selection, columns=["zen_pnt_deg", "muoneff"])
print(f"{len(table)} observations, {table['zen_pnt_deg'].min():.2f} < zenith < {table['zen_pnt_deg'].max():.2f} deg")

# Manual grouping: the zenith at mid-time against the median of ZEN_PNT
cat.compute_pointing(selection)
zenith = cat.split("zenith", "zen_tmid_deg", at="median:zen_pnt_deg", selection=selection, replace=True)
print(zenith.groups)

# Hierarchical clustering on IRF features at 1 TeV (Gammapy's recipe: z-scores, Ward linkage, 2 groups)
pks2155 = SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg)
features = cat.compute_features(1 * u.TeV, features=["edisp-res", "psf-radius"], position=pks2155, selection=selection)
clusters = cat.cluster("irf", ["edisp-res", "psf-radius"], feature_set=features.meta["feature_set"],
                       selection=selection, n_groups=2, replace=True)
print(clusters.groups)

# One GADF data store per group (gammapy.data.DataStore.from_dir opens each), and a figure
for directory in cat.export_grouping("irf", "irf-groups"):
    print(directory)
cat.plot("irf", x="psf-radius", y="edisp-res").savefig("irf-clusters.png")
