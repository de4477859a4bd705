"""Does a newer Ray change what the RayService mapping reads? Compares two released Ray
wheels (never imported) on what scripts/derive_ray_catalog.py reads:

- the Ray Serve metrics declared in ray/serve/ (name, kind, tag keys, bucket constant);
- the files of the metrics path (ray/_private/metrics_agent.py, ray/util/metrics.py,
  ray/serve/metrics.py, the OpenTelemetry recorder): same or changed;
- where Ray Serve LLM hands vLLM its RayPrometheusStatLogger;
- the vLLM pin of the `llm` extra.

    pip download --no-deps --only-binary=:all: --python-version 3.11 \\
        --platform manylinux2014_x86_64 ray==2.58.0 -d W   # and ray==2.60.0
    python scripts/compare_ray_wheels.py W/ray-2.58.0-*.whl W/ray-2.60.0-*.whl
"""

from __future__ import annotations

import re
import sys
import zipfile

METRICS_PATH = (
    "ray/_private/metrics_agent.py",
    "ray/_private/telemetry/open_telemetry_metric_recorder.py",
    "ray/util/metrics.py",
    "ray/serve/metrics.py",
)
_DECL = re.compile(
    r'metrics\.(Counter|Gauge|Histogram)\(\s*(?:name=)?\s*"([a-z_]+)"(.*?)\n\s*\)', re.S
)


def serve_metrics(z: zipfile.ZipFile) -> dict[str, tuple[str, str, str]]:
    out: dict[str, tuple[str, str, str]] = {}
    for name in z.namelist():
        if not (name.startswith("ray/serve/") and name.endswith(".py")):
            continue
        for m in _DECL.finditer(z.read(name).decode()):
            tags = re.search(r"tag_keys=\(([^)]*)\)", m.group(3))
            buckets = re.search(r"boundaries=([A-Za-z_]+)", m.group(3))
            out[m.group(2)] = (
                m.group(1),
                tags.group(1) if tags else "",
                buckets.group(1) if buckets else "",
            )
    return out


def main(old_path: str, new_path: str) -> int:
    old, new = zipfile.ZipFile(old_path), zipfile.ZipFile(new_path)
    a, b = serve_metrics(old), serve_metrics(new)
    print(f"Serve metrics declared: {len(a)} -> {len(b)}")
    print("  removed:", ", ".join(sorted(set(a) - set(b))) or "none")
    print("  added:", ", ".join(sorted(set(b) - set(a))) or "none")
    changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    print("  kind, tags or buckets changed:", ", ".join(changed) or "none")
    for f in METRICS_PATH:
        same = f in new.namelist() and old.read(f) == new.read(f)
        print(f"{f}: {'same' if same else 'CHANGED (read the diff)'}")
    for z, label in ((old, old_path), (new, new_path)):
        hits = [
            n
            for n in z.namelist()
            if n.startswith("ray/llm/_internal/serve/")
            and n.endswith(".py")
            and b"RayPrometheusStatLogger" in z.read(n)
        ]
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        pin = [ln for ln in z.read(meta).decode().splitlines() if "vllm" in ln]
        print(f"{label}: stat logger in {', '.join(hits) or 'NOWHERE'}; {'; '.join(pin)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python scripts/compare_ray_wheels.py OLD.whl NEW.whl")
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
