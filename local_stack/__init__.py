"""local_stack: the stack without Docker: the real tritonserver from nvidia-pytriton,
this project's Python-based `onnxruntime` backend, and Debian's Prometheus, as processes."""
