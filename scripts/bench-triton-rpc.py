"""RPC cost of one KServe v2 inference of a 2-frame segd batch, gRPC vs HTTP (binary tensors), against
a running Triton (test/helpers/triton-server.py), with Triton's own per-request statistics:

  python scripts/bench-triton-rpc.py --model seg --http 127.0.0.1:18000 --grpc 127.0.0.1:18001 --metrics 127.0.0.1:18002 [--n 40]

For each protocol: client round trip (median, p90, mean) and, from Triton's statistics over the same
requests, its compute and whole-request times (means); mean round trip minus mean compute =
transfer + (de)serialisation + Triton's queue; minus the whole request = what happens outside Triton. Run it in the test venv (test/triton/setup_env.sh: tritonclient comes with PyTriton).
"""
from __future__ import annotations

import argparse
import json
import re
import time
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


METRICS = ("queue", "compute_input", "compute_infer", "compute_output", "request")


def stats(metrics_url: str, model: str) -> dict[str, float]:
    """Triton's cumulative per-model durations (µs) from its Prometheus endpoint (PyTriton restricts the statistics API)."""
    text = urllib.request.urlopen(metrics_url).read().decode()
    out = {}
    for k in METRICS:
        m = re.search(rf'^nv_inference_{k}_duration_us{{model="{model}",[^}}]*}} (\S+)$', text, re.M)
        out[k] = float(m.group(1)) if m else 0.0
    return out


def run(name: str, client, mod, model: str, frames: np.ndarray, n: int, grpc: bool, metrics: str) -> dict:
    inp = mod.InferInput("frames", list(frames.shape), "UINT8")
    if grpc:
        inp.set_data_from_numpy(frames)
        out = [mod.InferRequestedOutput("mask")]
    else:
        inp.set_data_from_numpy(frames, binary_data=True)
        out = [mod.InferRequestedOutput("mask", binary_data=True)]
    for _ in range(5):  # warm-up
        client.infer(model, [inp], outputs=out)
    before = stats(metrics, model)
    rtt = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.infer(model, [inp], outputs=out)
        rtt.append((time.perf_counter() - t0) * 1e3)
        assert r.as_numpy("mask").shape == frames.shape[:3]
    after = stats(metrics, model)
    per = {k: (after[k] - before[k]) / n / 1e3 for k in METRICS}
    mean = sum(rtt) / n
    rtt.sort()
    med = rtt[len(rtt) // 2]
    # Means on both sides (Triton's counters are sums over the same requests): mean − mean is per request.
    return {"protocol": name, "requests": n, "rtt_ms_median": round(med, 2), "rtt_ms_p90": round(rtt[int(n * 0.9)], 2),
            "rtt_ms_mean": round(mean, 2), "triton_ms": {k: round(v, 2) for k, v in per.items()},
            "overhead_ms_mean": round(mean - per["compute_infer"], 2),
            "outside_triton_ms_mean": round(mean - per["request"], 2)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--metrics", required=True, help="Triton's metrics address, host:port")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--width", type=int, default=480)
    args = ap.parse_args()
    frames = np.random.default_rng(0).integers(0, 256, (2, args.height, args.width, 3), dtype=np.uint8)
    g = grpcclient.InferenceServerClient(args.grpc)
    h = httpclient.InferenceServerClient(args.http)
    # Interleaved halves so load drift hits both protocols alike.
    results = []
    for _ in range(2):
        results.append(run("grpc", g, grpcclient, args.model, frames, args.n // 2, True, f"http://{args.metrics}/metrics"))
        results.append(run("http-binary", h, httpclient, args.model, frames, args.n // 2, False, f"http://{args.metrics}/metrics"))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
