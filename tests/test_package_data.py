"""The bundled tables, the lookup order, platform directories and the atomic write."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nas_gym import data
from nas_gym.checks import KNOWN_TABLES, check_bundled
from nas_gym.cli import main
from tests.scripts import load_script

REPO = Path(__file__).resolve().parents[1]

#: Run in a clean process: no data env var, empty HOME and XDG/cache dirs. It also
#: checks the core import path pulls in neither matplotlib nor torch.
_FRESH_SCRIPT = """
import json, sys
import gymnasium as gym
import numpy as np
import nas_gym
env = gym.make("NASBench201-v0")
env.reset(seed=0)
out = {}
for index, ops in json.loads(sys.argv[1]).items():
    alpha = np.zeros((6, 5), dtype=np.float32)
    alpha[np.arange(6), ops] = 1.0
    info = env.step(alpha)[4]
    out[index] = [info["arch_index"], info["valid_acc"], info["test_acc"], info["params_M"]]
from nas_gym.data import locate_table
out["source"] = locate_table("nb201/nb201_metrics.csv").source
out["heavy"] = sorted(m for m in ("matplotlib", "torch") if m in sys.modules)
print(json.dumps(out))
"""


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAS_GYM_", "XDG_"))}
    home = tmp_path / "home"
    home.mkdir()
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    return env


def test_fresh_process_without_data_dir_reads_the_bundled_table(data_dir, tmp_path):
    from nas_gym.spaces import nb201 as space

    with open(data_dir / "nb201" / "nb201_metrics.csv", newline="") as fh:
        rows = {int(r["index"]): r for r in csv.DictReader(fh)}
    wanted = [0, 6111, 9930, 15624]
    ops = {i: list(space.str_to_ops(rows[i]["arch_str"])) for i in wanted}
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_SCRIPT, json.dumps(ops)],
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["source"] == data.SOURCE_BUNDLED
    assert out["heavy"] == [], "the core import path must not import matplotlib or torch"
    for i in wanted:
        index, valid, test, params = out[str(i)]
        assert index == i
        assert valid == pytest.approx(float(rows[i]["c10valid_valid_acc_mean"]), abs=1e-9)
        assert test == pytest.approx(float(rows[i]["c10_test_acc_mean"]), abs=1e-9)
        assert params == pytest.approx(float(rows[i]["params_M_c10"]), abs=1e-9)
    cache = Path(tmp_path / "home")
    assert list(cache.rglob("nb201_metrics.csv")), "decompressed into the user cache"


def test_manifest_covers_every_known_table_with_matching_checksums():
    manifest = data.bundled_manifest()
    assert set(manifest) == set(KNOWN_TABLES)
    for rel, entry in manifest.items():
        assert entry["sha256"] == KNOWN_TABLES[rel]
        compressed = data.BUNDLED_DIR / entry["xz"]
        assert compressed.stat().st_size == entry["xz_size"]
        assert data.sha256_file(compressed) == entry["xz_sha256"]
    total = sum(e["xz_size"] for e in manifest.values())
    assert total < 8e6, f"bundled tables grew to {total / 1e6:.1f} MB"


def _build_script():
    return load_script("scripts/build_package_data.py")


def test_build_script_reproduces_the_bundled_files(data_dir, tmp_path):
    small = ("proxylessnas/pixel1_mobile_lut.yaml", "fbnet/hwnasbench_fbnet_lut.json")
    built = _build_script().build(data_dir, tmp_path / "out", small)
    shipped = data.bundled_manifest()
    for rel in small:
        assert built[rel] == shipped[rel]
        assert (tmp_path / "out" / f"{rel}.xz").read_bytes() == (
            data.BUNDLED_DIR / f"{rel}.xz"
        ).read_bytes()
    manifest = json.loads((tmp_path / "out" / "MANIFEST.json").read_text())
    assert set(manifest["tables"]) == set(small)


def test_build_script_refuses_an_untested_table(data_dir, tmp_path):
    rel = "proxylessnas/pixel1_mobile_lut.yaml"
    (tmp_path / "in" / "proxylessnas").mkdir(parents=True)
    (tmp_path / "in" / rel).write_bytes((data_dir / rel).read_bytes() + b"# edited\n")
    with pytest.raises(SystemExit, match="is not the tested version"):
        _build_script().build(tmp_path / "in", tmp_path / "out", (rel,))
    assert not (tmp_path / "out").exists()


@pytest.fixture
def bundle_copy(tmp_path, monkeypatch):
    """A private copy of the bundled tables (so a test may damage it) and a private cache."""
    target = tmp_path / "tables"
    shutil.copytree(data.BUNDLED_DIR, target)
    monkeypatch.setattr(data, "BUNDLED_DIR", target)
    monkeypatch.setenv("NAS_GYM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg_data"))
    monkeypatch.delenv("NAS_GYM_DATA_DIR", raising=False)
    return target


def test_bundled_table_is_extracted_once_and_matches_the_original(data_dir, bundle_copy):
    rel = "proxylessnas/pixel1_mobile_lut.yaml"
    path = data.find_table(rel)
    assert path.read_bytes() == (data_dir / rel).read_bytes()
    mtime = path.stat().st_mtime_ns
    assert data.find_table(rel) == path and path.stat().st_mtime_ns == mtime  # not rewritten


def test_damaged_bundled_copy_is_an_error_and_data_check_fails(bundle_copy):
    rel = "proxylessnas/pixel1_mobile_lut.yaml"
    xz = bundle_copy / f"{rel}.xz"
    raw = bytearray(xz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    xz.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="pixel1_mobile_lut.yaml.xz"):
        data.find_table(rel)
    ok, line = check_bundled(rel)
    assert not ok and "does not match its sha256 in MANIFEST.json" in line


def test_env_var_dir_falls_through_per_table_but_data_dir_argument_is_strict(
    data_dir, bundle_copy, tmp_path, monkeypatch
):
    partial = tmp_path / "partial"
    (partial / "nb201").mkdir(parents=True)
    shutil.copy(data_dir / "nb201" / "nb201_metrics.csv", partial / "nb201")
    monkeypatch.setenv("NAS_GYM_DATA_DIR", str(partial))
    assert data.locate_table("nb201/nb201_metrics.csv").source == data.SOURCE_ENV
    assert data.locate_table("nb201/nb201_help_latency.csv").source == data.SOURCE_BUNDLED
    # The env var's directory passed along as data_dir (as an env does) is still the default:
    assert data.locate_table("nb201/nb201_help_latency.csv", partial).source == data.SOURCE_BUNDLED
    # ...but any other explicit data_dir must hold the table itself.
    monkeypatch.delenv("NAS_GYM_DATA_DIR")
    assert data.locate_table("nb201/nb201_help_latency.csv", partial) is None
    with pytest.raises(
        data.DataError, match=r"help_latency.csv.*not found.*data_dir= / --data-dir"
    ):
        data.find_table("nb201/nb201_help_latency.csv", partial)


def test_no_tables_at_all_gives_a_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "BUNDLED_DIR", tmp_path / "no_bundle")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg_data"))
    monkeypatch.delenv("NAS_GYM_DATA_DIR", raising=False)
    assert main(["data", "check"]) == 1
    out = capsys.readouterr().out
    assert "no tables found" in out and "NAS_GYM_DATA_DIR" in out and "import-nats" in out
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "MISSING" in out and "7 table(s) missing" in out and "build_package_data.py" in out
    with pytest.raises(data.DataError, match="not found.*bundled copy.*NAS_GYM_DATA_DIR"):
        data.find_table("nb201/nb201_metrics.csv")


def test_unusable_cache_dir_warns_and_goes_on(bundle_copy, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NAS_GYM_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(data.CacheWarning, match="cannot use the cache directory.*NAS_GYM_CACHE_DIR"):
        path = data.find_table("proxylessnas/pixel1_mobile_lut.yaml")
    assert path.is_file() and blocker.read_text() == "not a directory"


def test_directories_follow_platformdirs(tmp_path, monkeypatch):
    monkeypatch.delenv("NAS_GYM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    if sys.platform.startswith("linux"):
        assert data.cache_dir() == tmp_path / "c" / "nas_gym"
        assert data.user_data_dir() == tmp_path / "d" / "nas_gym"
    import platformdirs

    assert data.user_data_dir() == Path(platformdirs.user_data_dir("nas_gym", appauthor=False))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_write_has_the_usual_permissions_and_leaves_the_umask_alone(tmp_path):
    old = os.umask(0o027)
    try:
        errors: list[BaseException] = []

        def write(i: int) -> None:
            try:
                data.atomic_write_bytes(tmp_path / f"f{i}.bin", bytes([i]) * 1000)
            except BaseException as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert os.umask(0o027) == 0o027  # nobody changed it behind our back
    finally:
        os.umask(old)
    for i in range(16):
        path = tmp_path / f"f{i}.bin"
        assert path.read_bytes() == bytes([i]) * 1000
        assert path.stat().st_mode & 0o777 == 0o640
    assert not list(tmp_path.glob(".*.tmp")), "no temporary files left behind"


def test_a_figure_replaces_the_old_png_instead_of_rewriting_it(tmp_path):
    """``atomic_write_png`` writes a new file and renames it over the old one, so a reader
    (here a hard link to the old file) never sees a half-written PNG; a figure that fails
    to render leaves the old one as it was."""
    import matplotlib.image
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.0, 1.5))
    fig.subplots().plot([0, 1], [1, 0])
    path = tmp_path / "curves.png"
    data.atomic_write_png(path, fig, dpi=50)
    old = path.read_bytes()
    assert matplotlib.image.imread(path).shape[:2] == (75, 100)  # 1.5 x 2.0 in at 50 dpi
    os.link(path, tmp_path / "reader.png")

    data.atomic_write_png(path, fig, dpi=60)
    assert (tmp_path / "reader.png").read_bytes() == old  # an in-place rewrite would change it
    assert matplotlib.image.imread(path).shape[:2] == (90, 120)

    class Broken(Artist):
        def draw(self, renderer):
            raise RuntimeError("interrupted while rendering")

    new = path.read_bytes()
    fig.add_artist(Broken())
    with pytest.raises(RuntimeError, match="interrupted while rendering"):
        data.atomic_write_png(path, fig, dpi=50)
    assert path.read_bytes() == new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "reader.png"]
