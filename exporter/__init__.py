"""exporter: PyTorch models -> verified ONNX -> a Triton model repository."""
