"""Gammapy's observation-clustering tutorial through obscat's Python API, on HESS DL3 DR1.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import astropy.units as u
from astropy.coordinates import SkyCoord

from obscat import Catalog
from obscat.group import Median
from obscat.query import Cone

cat = Catalog()  # $OBSCAT_DB_URL, else sqlite:///obscat.db
cat.ingest("$GAMMAPY_DATA/hess-dl3-dr1", name="hess")

# The tutorial's selection: 2 deg around PKS 2155-304
cone = Cone(SkyCoord(329.71693826, -30.2255, unit="deg"), 2 * u.deg)
table = cat.select(cone, columns=["zen_pnt_deg", "muoneff"])
print(f"{len(table)} observations, {table['zen_pnt_deg'].min():.2f} < zenith < {table['zen_pnt_deg'].max():.2f} deg")

# Manual grouping: the zenith at mid-time against the median of ZEN_PNT
cat.compute_pointing(cone)
zenith = cat.split("zenith", "zen_tmid_deg", at=Median(of="zen_pnt_deg"), selection=cone, replace=True)
print(zenith.groups)

# Hierarchical clustering on IRF features at 1 TeV (Gammapy's recipe: z-scores, Ward linkage, 2 groups)
pks2155 = SkyCoord(329.71693826, -30.2255890, unit="deg")
features = cat.compute_features(1 * u.TeV, features=["edisp-res", "psf-radius"], position=pks2155, selection=cone)
clusters = cat.cluster("irf", ["edisp-res", "psf-radius"], feature_set=features.meta["feature_set"],
                       selection=cone, n_groups=2, replace=True)
print(clusters.groups)

# One GADF data store per group, a figure, and one group opened in Gammapy (the gammapy extra)
for directory in cat.export_grouping("irf", "irf-groups"):
    print(directory)
cat.plot("irf", x="psf-radius", y="edisp-res").savefig("irf-clusters.png")
observations = cat.datastore(grouping="irf", label="cluster_1").get_observations()
print(len(observations), "observations of cluster_1 open in Gammapy")
