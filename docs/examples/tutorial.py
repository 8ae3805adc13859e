"""Gammapy's observation-clustering tutorial through obscat's Python API, on HESS DL3 DR1."""

import astropy.units as u
from astropy.coordinates import SkyCoord

from obscat import Catalog
from obscat.group import Median
from obscat.query import Cone

cat = Catalog("sqlite:///obscat.db")
cat.ingest("$GAMMAPY_DATA/hess-dl3-dr1", name="hess")

pks2155 = SkyCoord(329.71693826, -30.2255890, unit="deg")
cone = Cone(pks2155, 2 * u.deg)
selected = cat.select(cone, columns=["zen_pnt_deg", "muoneff"])
print(len(selected), "observations, zenith", selected["zen_pnt_deg"].min(), "to", selected["zen_pnt_deg"].max())

cat.compute_pointing(cone)
zenith = cat.split("zenith", "zen_tmid_deg", at=Median(of="zen_pnt_deg"), selection=cone, replace=True)
print({label: len(obs_ids) for label, obs_ids in zenith.groups.items()})

features = cat.compute_features("1 TeV", position=pks2155, features=["edisp-res", "psf-radius"], selection=cone)
irf = cat.cluster("irf", ["edisp-res", "psf-radius"], feature_set=features.meta["feature_set"], n_groups=2,
                  selection=cone, replace=True)
print(irf.groups["cluster_1"])

observations = cat.datastore(grouping="irf", label="cluster_1").get_observations()
print(len(observations), "observations open in Gammapy")
