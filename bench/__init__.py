"""bench: where the time goes, as ratios against in-process ONNX Runtime (`make bench`)."""
