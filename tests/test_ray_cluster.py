"""Ray as the path past one machine: a local cluster of two 1-CPU nodes (a head and a worker
node, each its own raylet) standing in for two machines."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from roboref.cli import main
from roboref.parallel import parallel_map
from roboref.results import read_results


def _records(d):
    recs = sorted(read_results(d / "results.jsonl"), key=lambda r: r["key"])
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in recs]


@pytest.fixture
def two_node_cluster(monkeypatch):
    pytest.importorskip("ray")
    import ray
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    temp_dir = tempfile.mkdtemp(prefix="rr-ray-")  # short: Ray's socket paths end at 107 chars
    monkeypatch.setenv("RAY_TMPDIR", temp_dir)  # all of Ray's files there, none in the shared /tmp/ray
    (Path(temp_dir) / "ray").mkdir()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_two_node_ray_cluster_gives_the_same_records_as_local_processes(two_node_cluster, tmp_path):
    address = two_node_cluster.address
    node_of = lambda _item: __import__("ray").get_runtime_context().get_node_id()  # noqa: E731 (by value)
    nodes = set(parallel_map(node_of, range(4), ray_address=address, temp_dir=tmp_path))
    assert len(nodes) == 2  # one actor per node's CPU: both "machines" work
    args = ["eval", "agent=random", "suite=smoke", "episodes=3", "chunk=2", "plots=false", "workers=2"]
    assert main([*args, f"out={tmp_path / 'local'}"]) == 0
    assert main([*args, f"out={tmp_path / 'ray'}", f"ray.address='{address}'"]) == 0
    local, ray_recs = _records(tmp_path / "local"), _records(tmp_path / "ray")
    assert len(local) == 6 and local == ray_recs
    assert json.loads((tmp_path / "ray" / "summary.json").read_text())["overall"]["n"] == 6
