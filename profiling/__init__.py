"""Where each request's time goes: client, Triton's trace and ORT's profiler on one time axis.

`python -m profiling` (or `make profile`) runs a short load with tracing on and writes, per
model, a Chrome-trace/Perfetto `timeline.json`, a `summary.txt` and a PNG of one request.
See docs/profiling.md.
"""
