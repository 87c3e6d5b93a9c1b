"""client: load generator for Triton over HTTP/gRPC, with or without shared memory."""
