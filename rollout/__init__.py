"""Live model versions on a running Triton: roll a new one out, and back, without failing a request.

`python -m rollout --model NAME (--from-onnx FILE | --rebuild)` and `python -m rollout rollback
--model NAME` (docs/rollout.md). It works on the exporter's repository through the exporter's
config and repository code, and on the server through the v2 protocol and metrics.
"""
