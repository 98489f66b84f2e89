import json

from roboref.cli import main
from roboref.results import read_results


def test_coeval_separates_perception_from_control(tmp_path, capsys):
    out = tmp_path / "co"
    args = ["coeval", "agents=[oracle,random]", "robots=[ur5e]", "episodes=2", f"out={out}"]
    assert main(args + ["executors=[teleport]"]) == 0
    m = json.loads((out / "coeval.json").read_text())
    for kind in ("location", "placement"):
        assert m["ur5e"][kind]["oracle"]["teleport"]["rate"] == 1.0
        assert m["ur5e"][kind]["random"]["teleport"]["rate"] <= 0.5
    recs = read_results(out / "coeval.jsonl")
    assert len(recs) == 2 * 2 * 2  # kinds x episodes x agents
    # random minus oracle on the same episodes: per cell, per robot and over all
    pairs = {(p["robot"], p["kind"]): p for p in json.loads((out / "coeval_paired.json").read_text())}
    assert set(pairs) == {("ur5e", "location"), ("ur5e", "placement"), ("ur5e", "all"), ("all", "all")}
    wins = [r["success"] for r in recs if r["agent"] == "random"]
    assert pairs["all", "all"]["n"] == 4 and pairs["all", "all"]["diff"] == sum(wins) / 4 - 1.0
    assert pairs["all", "all"]["ci95"][0] <= pairs["all", "all"]["diff"] <= pairs["all", "all"]["ci95"][1]
    assert "paired differences to oracle" in (out / "coeval.md").read_text()
    # adding the controller column runs only the new cells; the teleport ones are kept
    assert main(args + ["executors=[teleport,controller]", "agents=[oracle]", "episodes=1"]) == 0
    recs = read_results(out / "coeval.jsonl")
    ctrl = [r for r in recs if r["executor"] == "controller"]
    assert len(ctrl) == 2 and all("execution" in r for r in ctrl)
    assert len({r["key"] for r in recs}) == len(recs)
    assert "| oracle |" in (out / "coeval.md").read_text()


def test_coeval_bad_inputs(tmp_path, capsys):
    assert main(["coeval", "executors=[magic]", f"out={tmp_path}"]) == 2
    assert "teleport" in capsys.readouterr().err
    assert main(["coeval", "agents=[gpt]", f"out={tmp_path}"]) == 2


def test_reachable_places_draw_placements_where_the_controller_places():
    """``reachable_places=true`` gives placement envs the controller's place area (the G1's
    reach; the UR5e reaches its whole workspace), and leaves location envs alone."""
    from omegaconf import OmegaConf

    from roboref.coeval import coeval_env_kwargs
    from roboref.envs.control import G1Controller
    from roboref.envs.robots import get_robot

    cfg = OmegaConf.create({"num_steps": [1, 3], "image_size": [224, 224], "reachable_places": True})
    g1 = coeval_env_kwargs(cfg, "g1", "placement")
    assert [tuple(a) for a in g1["place_area"]] == list(G1Controller.reach_area)
    assert "place_area" not in coeval_env_kwargs(cfg, "g1", "location")
    ur5e = coeval_env_kwargs(cfg, "ur5e", "placement")
    assert [tuple(a) for a in ur5e["place_area"]] == list(get_robot("ur5e").workspace)
    cfg.reachable_places = False
    assert "place_area" not in coeval_env_kwargs(cfg, "g1", "placement")
