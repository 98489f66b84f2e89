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
