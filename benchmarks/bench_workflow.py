"""The seed workflow (Gammapy's observation-clustering tutorial) through obscat against the tutorial's own code.

    bash benchmarks/reference-env.sh              # Gammapy 2.1 in .venv-gammapy
    python benchmarks/bench_workflow.py [--repeat 5] [--postgres]

The workflow on HESS DL3 DR1: the 2-deg cone around PKS 2155-304 (21
observations), a split of the zenith at mid-time at the median ZEN_PNT, IRF
features (edisp-res, psf-radius) at 1 TeV at the source position, standard
scaling and two hierarchical clusters.  Gammapy runs the tutorial's calls
(plots and matplotlib left out); obscat works against a catalogue ingested
once beforehand (not timed) and stores the pointing, the feature set and
both groupings.

obscat is measured two ways:

* cold: the feature set deleted and the pointing columns set to NULL before
  each run, so the run reads the FITS files and computes both again;
* warm: pointing and feature set already stored (by an earlier run), so the
  run only selects, splits and clusters.

Whole processes (a fresh interpreter: Gammapy's script; obscat's CLI
commands in sequence, their times summed) and the work after imports (each
script times itself; Gammapy's DataStore.from_dir and obscat's Catalog(url)
are inside the clock) alternate, medians reported.  Every run's groups are
checked against Gammapy's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from harness import DATA, GAMMAPY_PYTHON, Measurement, have_gammapy, pg_database, report, run_process, save

OBSCAT = str(Path(sys.executable).parent / "obscat")
RA, DEC, RADIUS, DEC_SOURCE = 329.71693826, -30.2255, 2.0, -30.2255890  # the tutorial's cone and source
CONE = ["--cone", f"{RA} {DEC} {RADIUS}"]
FEATURES = ["edisp-res", "psf-radius"]

# The tutorial's code (docs/tutorials/api/observation_clustering.py), without the plots.
GAMMAPY_CODE = """
import json, sys, time
import numpy as np
import astropy.units as u
from astropy.coordinates import SkyCoord
from gammapy.data import DataStore
from gammapy.data.observations import Observations
from gammapy.data.utils import get_irfs_features
from gammapy.utils.cluster import hierarchical_clustering, standard_scaler
start = time.perf_counter()

data_store = DataStore.from_dir(sys.argv[1])
selection = dict(type="sky_circle", frame="icrs", lon="329.71693826 deg", lat="-30.2255 deg", radius="2 deg")
obs_table = data_store.obs_table
selected_obs_table = obs_table.select_observations(selection)
obs_ids = selected_obs_table["OBS_ID"]
observations = data_store.get_observations(obs_ids)
obs_zenith = selected_obs_table["ZEN_PNT"].to(u.deg)
obs_muoneff = selected_obs_table["MUONEFF"]
print(f"{np.min(obs_zenith):.2f} < zenith angle < {np.max(obs_zenith):.2f}")
print(f"{np.min(obs_muoneff):.2f} < muon efficiency < {np.max(obs_muoneff):.2f}")
median_zenith = np.median(obs_zenith)
labels = []
for obs in observations:
    zenith = obs.get_pointing_altaz(time=obs.tmid).zen
    labels.append("low_zenith" if zenith < median_zenith else "high_zenith")
grouped_observations = observations.group_by_label(labels)
print(grouped_observations)
source_position = SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg, frame="icrs")
names = ["edisp-res", "psf-radius"]
features_irfs = get_irfs_features(observations, energy_true="1 TeV", position=source_position, names=names)
print(features_irfs)
scaled_features_irfs = standard_scaler(features_irfs)
print(scaled_features_irfs)
features = hierarchical_clustering(scaled_features_irfs, fcluster_kwargs={"t": 2})
print(features)
obs_clusters = observations.group_by_label(features["labels"])
print(obs_clusters)

seconds = time.perf_counter() - start
ids = lambda group: sorted(int(o.obs_id) for o in group)
json.dump({"seconds": seconds, "obs_ids": sorted(int(i) for i in obs_ids),
           "split": {k.removeprefix("group_"): ids(v) for k, v in grouped_observations.items()},
           "clusters": {k.removeprefix("group_"): ids(v) for k, v in obs_clusters.items()},
           "features": {str(r["obs_id"]): [float(r[n]) for n in names] for r in features_irfs}}, open(sys.argv[2], "w"))
"""

# The same workflow through obscat's Python API; argv: url, output file, feature set (warm) or "cold".
OBSCAT_CODE = """
import json, sys, time
import astropy.units as u
from astropy.coordinates import SkyCoord
import scipy.cluster.hierarchy  # imported before the clock, as the tutorial imports gammapy.utils.cluster
from obscat import Catalog
from obscat.group import Median
from obscat.query import Cone
url, out, feature_set = sys.argv[1:4]
start = time.perf_counter()

cat = Catalog(url)
cone = Cone(SkyCoord(329.71693826 * u.deg, -30.2255 * u.deg), 2 * u.deg)
selected = cat.select(cone)
if feature_set == "cold":
    cat.compute_pointing(cone)
split = cat.split("zenith", "zen_tmid_deg", at=Median(of="zen_pnt_deg"), selection=cone, replace=True)
if feature_set == "cold":
    position = SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg, frame="icrs")
    table = cat.compute_features("1 TeV", features=["edisp-res", "psf-radius"], position=position, selection=cone)
    feature_set = table.meta["feature_set"]
clusters = cat.cluster("irf", ["edisp-res", "psf-radius"], feature_set=feature_set, selection=cone, n_groups=2,
                       replace=True)

seconds = time.perf_counter() - start
features = cat.feature_set(feature_set)
json.dump({"seconds": seconds, "obs_ids": [int(o) for o in selected["obs_id"]], "split": split.groups, "clusters": clusters.groups,
           "feature_set": feature_set,
           "features": {str(r["obs_id"]): [float(r[n]) for n in ("edisp-res", "psf-radius")] for r in features}},
          open(out, "w"))
"""


def make_cold(url: str) -> None:
    """Forget what an earlier run stored: the feature sets and the pointing at mid-time."""
    import sqlalchemy as sa

    from obscat import Catalog
    from obscat.store.models import Pointing

    with Catalog(url) as cat:
        for summary in cat.feature_sets():
            cat.delete_feature_set(summary.name)
        with cat.session(write=True) as session:
            session.execute(sa.delete(Pointing))


def cli_workflow(url: str, feature_set: str, cold: bool) -> tuple[float, float | None]:
    """The workflow as ``obscat`` commands in sequence: summed wall time, largest peak RSS.

    Cold computes the pointing and the feature set (named by its parameters: ``feature_set``); warm
    clusters the stored set.
    """
    db = [OBSCAT, "--db", url]
    commands = [[*db, "select", *CONE, "--format", "ids"]]
    if cold:
        commands.append([*db, "pointing", *CONE])
    commands.append([*db, "group", "split", "zen_tmid_deg", "--name", "zenith", "--at", "median:zen_pnt_deg",
                     *CONE, "--replace"])  # fmt: skip
    if cold:
        commands.append([*db, "features", "compute", "-e", "1 TeV", "--position", f"{RA} {DEC_SOURCE}",
                         "-F", FEATURES[0], "-F", FEATURES[1], *CONE])  # fmt: skip
    commands.append([*db, "group", "cluster", "--name", "irf", "--feature-set", feature_set,
                     "-F", FEATURES[0], "-F", FEATURES[1], "-k", "2", *CONE, "--replace"])  # fmt: skip
    runs = [run_process(c) for c in commands]
    return sum(s for s, _ in runs), max((r for _, r in runs if r is not None), default=None)


def stored_groupings(url: str) -> dict:
    """What the CLI stored, in the shape the scripts print."""
    from obscat import Catalog

    with Catalog(url) as cat:
        return {key: cat.grouping(name).groups for key, name in (("split", "zenith"), ("clusters", "irf"))}


def agreement(reference: dict, result: dict, label: str) -> list[str]:
    """Differences between a run's groups and Gammapy's (obscat's cluster_1 is Gammapy's label 1)."""
    problems = []
    if "obs_ids" in result and result["obs_ids"] != reference["obs_ids"]:
        problems.append("selected obs ids differ")
    if result["split"] != reference["split"]:
        problems.append(f"zenith split differs: {result['split']} vs {reference['split']}")
    clusters = {k.removeprefix("cluster_"): ids for k, ids in result["clusters"].items()}
    if clusters != reference["clusters"]:
        problems.append(f"clusters differ: {result['clusters']} vs {reference['clusters']}")
    return [f"{label}: {p}" for p in problems]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="also the obscat API on PostgreSQL database obscat_bench_workflow (recreated)")
    args = parser.parse_args()
    if not have_gammapy():
        sys.exit("the Gammapy reference environment is needed: bash benchmarks/reference-env.sh")
    hess = str(DATA / "hess-dl3-dr1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        urls = {"SQLite": f"sqlite:///{tmp}/workflow.db"}
        if args.postgres:
            urls["PostgreSQL"] = pg_database("obscat_bench_workflow", fresh=True)
        for url in urls.values():
            run_process([OBSCAT, "--db", url, "ingest", hess, "--name", "hess"])
        sqlite = urls["SQLite"]

        results: dict[str, Measurement] = {}
        outputs: dict[str, list[dict]] = {}

        def record(name: str, seconds: float, rss: float | None = None) -> None:
            m = results.setdefault(name, Measurement(name))
            m.seconds.append(seconds)
            if rss is not None:
                m.rss_mib.append(rss)

        def script(name: str, argv: list[str]) -> None:
            """Run a script that writes its own timing and groups to ``out``: both figures recorded."""
            wall, rss = run_process(argv)
            data = json.loads(out.read_text())
            record(f"{name}, whole process", wall, rss)
            record(f"{name}, after imports", data["seconds"])
            outputs.setdefault(name, []).append(data)

        def obscat_api(label: str, url: str, cold: bool) -> None:
            if cold:
                make_cold(url)
            feature_set = "cold" if cold else warm_set
            script(f"obscat API {label} {'cold' if cold else 'warm'}",
                   [sys.executable, "-c", OBSCAT_CODE, url, str(out), feature_set])  # fmt: skip

        def obscat_cli(cold: bool) -> None:
            if cold:
                make_cold(sqlite)
            name = f"obscat CLI SQLite {'cold (5 commands)' if cold else 'warm (3 commands)'}, whole process"
            record(name, *cli_workflow(sqlite, warm_set, cold))
            outputs.setdefault(name, []).append(stored_groupings(sqlite))

        # one cold run first: names the feature set and leaves the warm state behind (not counted)
        make_cold(sqlite)
        run_process([sys.executable, "-c", OBSCAT_CODE, sqlite, str(out), "cold"])
        warm_set = json.loads(out.read_text())["feature_set"]
        for _ in range(args.repeat):
            script("gammapy tutorial", [str(GAMMAPY_PYTHON), "-c", GAMMAPY_CODE, hess, str(out)])
            for label, url in urls.items():
                obscat_api(label, url, cold=True)
                obscat_api(label, url, cold=False)
            obscat_cli(cold=True)
            obscat_cli(cold=False)

    whole = [m for m in results.values() if m.name.endswith("whole process")]
    inside = [m for m in results.values() if m.name.endswith("after imports")]
    rows_whole = report("Seed workflow on HESS DL3 DR1, whole processes", whole, baseline=whole[0].name)
    rows_inside = report("Seed workflow, after imports (each script times itself)", inside, baseline=inside[0].name)
    speedups = {m.name: whole[0].median / m.median for m in whole[1:]}
    speedups.update({m.name: inside[0].median / m.median for m in inside[1:]})
    print("\nspeed-up over the Gammapy tutorial (median Gammapy / median obscat; target >= 10x):")
    for name, value in speedups.items():
        print(f"  {name:<56} {value:6.1f}x  {'meets' if value >= 10 else 'MISSES'} 10x")

    reference = outputs["gammapy tutorial"][0]
    problems = []
    for name, runs in outputs.items():
        for run in runs:
            problems += agreement(reference, run, name)
    api_runs = [run for name, runs in outputs.items() if name.startswith("obscat API") for run in runs]
    diffs = [abs(a - b) / abs(b) for run in api_runs for obs, values in run["features"].items()
             for a, b in zip(values, reference["features"][obs])]  # fmt: skip
    in_33787 = next(sorted(g) for g in reference["clusters"].values() if 33787 in g)
    print(f"\nagreement over {sum(map(len, outputs.values()))} runs: "
          f"{'all identical to Gammapy' if not problems else 'DIFFERENCES'}: {len(reference['obs_ids'])} obs ids; "
          f"high_zenith {reference['split']['high_zenith']}; cluster with 33787 {in_33787}; "
          f"features max relative difference {max(diffs):.1e}")  # fmt: skip
    for problem in problems:
        print("  " + problem)
    save("workflow", {"feature_set": warm_set, "whole_processes": rows_whole, "after_imports": rows_inside,
                      "speedup": speedups, "agreement_problems": problems, "features_max_rel_diff": max(diffs),
                      "gammapy_groups": {k: reference[k] for k in ("obs_ids", "split", "clusters")}})  # fmt: skip
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
