"""The CPU emulation of CUDA itself: warp intrinsics evaluated as CUDA defines them over the 32
lanes of each warp, and the misuses it must expose (a missing barrier, divergent barriers, lanes
missing from a collective, launch limits). Without these, agreement of the emulated kernels with
the CPU kernels would prove less than it seems."""

import pytest
import torch

from cuda_emu_harness import SCHEDULES, schedule


def run(emu, name):
    out = torch.zeros(1024, dtype=torch.int64)
    emu.selftest(out, name)
    return out


def lanes(n):
    return torch.arange(n, dtype=torch.int64)


def test_shuffle_down_reduces_each_warp(emu):
    out = run(emu, "warp_reduce")  # 64 threads, 2 warps: sum of 0..31 and of 32..63
    assert out[:2].tolist() == [496, 1520]


def test_shuffle_up_scans_within_the_warp(emu):
    t = lanes(64)
    expected = torch.cat([torch.cumsum(t[:32], 0), torch.cumsum(t[32:], 0)])
    assert torch.equal(run(emu, "warp_scan")[:64], expected)


def test_shuffle_xor_butterfly_gives_every_lane_the_warp_sum(emu):
    expected = torch.tensor([496] * 32 + [1520] * 32)
    assert torch.equal(run(emu, "warp_xor")[:64], expected)


def test_shuffle_with_width_reads_within_the_segment(emu):
    # __shfl_sync(mask, v, 3, 8): lane l reads lane 3 of its 8-lane segment.
    t = lanes(64)
    assert torch.equal(run(emu, "shfl_width")[:64], (t // 8) * 8 + 3)


def test_votes(emu):
    out = run(emu, "vote")
    lane = lanes(64) % 32
    odd = sum(1 << l for l in range(1, 32, 2))
    peers = torch.tensor([sum(1 << m for m in range(32) if m % 3 == l % 3) for l in lane.tolist()])
    assert torch.equal(out[:64] >> 32 & 0xFFFFFFFF, torch.full((64,), odd))
    assert torch.equal(out[:64] & 0xFFFFFFFF, peers)
    # any: only thread 40 (warp 1) votes; all: lane 31 votes no in every warp.
    assert out[64:128].tolist() == [0] * 32 + [2] * 32


def test_atomics_count_every_thread_of_every_block(emu):
    assert run(emu, "atomic_count")[:2].tolist() == [4 * 256, 4 * 256 - 1]


def test_missing_barrier_changes_the_result_with_the_schedule(emu):
    # Each thread reads its neighbour's shared slot; without the barrier the value read depends
    # on the order the threads run in and on the initial contents of shared memory.
    results = []
    for s in SCHEDULES:
        with schedule(*s):
            results.append(run(emu, "neighbour_racy")[:64])
    assert any(not torch.equal(r, results[0]) for r in results[1:])
    expected = (lanes(64) + 1) % 64 + 1
    for s in SCHEDULES:
        with schedule(*s):
            assert torch.equal(run(emu, "neighbour_synced")[:64], expected)


@pytest.mark.parametrize("name, message", [
    ("divergent_barrier", r"__syncthreads at selftest_kernel.cu:\d+ .* reached after 48 thread"),
    ("barrier_after_exit", r"reached after 32 thread\(s\) of the block exited"),
    ("partial_warp_shuffle", r"lane 16 named in the mask of the collective at selftest_kernel"),
    ("source_outside_mask", r"lane 8 reads lane 16, which is not in the mask"),
    ("oversized_shared", r"more than 48 KiB of shared memory per block \(57344 bytes with 'big'\)"),
    ("too_many_threads", r"invalid configuration argument \(block \(2048, 1, 1\)\)"),
])
def test_misuse_is_a_launch_error(emu, name, message):
    with pytest.raises(RuntimeError, match=message):
        run(emu, name)


def test_a_failed_launch_leaves_the_next_one_working(emu):
    with pytest.raises(RuntimeError):
        run(emu, "divergent_barrier")
    assert run(emu, "warp_reduce")[:2].tolist() == [496, 1520]


def test_bad_schedule_is_named(emu, monkeypatch):
    monkeypatch.setenv("CNF_EMU_ORDER", "sideways")
    with pytest.raises(RuntimeError, match="CNF_EMU_ORDER must be forward, reverse or random"):
        run(emu, "warp_reduce")
