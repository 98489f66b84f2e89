import os

from roboref.parallel import THREAD_VARS, parallel_map


def _pools(_item: int) -> dict:
    import torch  # imported after the worker started, as an agent's model would be

    return {"env": {v: os.environ.get(v) for v in THREAD_VARS}, "torch": torch.get_num_threads()}


def test_pool_workers_share_the_cores_out(monkeypatch):
    """Each of N local workers gets cpu_count // N threads in torch's, BLAS's and llvmpipe's
    pools (two workers with a thread per core each made RefPoint's eval 9x costlier per episode)."""
    for var in THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    share = str(max(1, (os.cpu_count() or 1) // 2))
    for got in parallel_map(_pools, [0, 1], workers=2):
        assert got["env"] == dict.fromkeys(THREAD_VARS, share)
        assert got["torch"] == int(share)


def test_a_thread_count_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    for got in parallel_map(_pools, [0, 1], workers=2):
        assert got["env"]["OMP_NUM_THREADS"] == "3" and got["env"]["MKL_NUM_THREADS"] == "3"
