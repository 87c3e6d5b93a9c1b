"""`make up` / `make down`: one launcher, two runners.

Docker Compose wherever an engine answers (launcher/compose_runner.py: the gpu profile with an
NVIDIA GPU, else the cpu profile), the local path everywhere else (local_stack/: the real
tritonserver of nvidia-pytriton with our backend, as plain processes). STACK_RUNNER forces either.
"""
