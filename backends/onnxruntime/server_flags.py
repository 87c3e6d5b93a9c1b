"""What the running tritonserver was told on its command line, read by the backend itself.

The python backend hands a Python-based backend only the *global* backend settings
(Triton 2.51 passes `default-max-batch-size: 4` here even when the server was started
with `--backend-config=onnxruntime,default-max-batch-size=8`). The stub process is a
child of tritonserver, so the flags are read from the parent's /proc cmdline.
"""

from __future__ import annotations

import os

BACKEND_NAME = "onnxruntime"
TRITON_DEFAULT_MAX_BATCH_SIZE = 4  # Triton's own default when the flag is absent


def parse_backend_configs(argv: list[str]) -> dict[str, dict[str, str]]:
    """{backend: {setting: value}} from `--backend-config=<backend>,<key>=<value>` flags."""
    configs: dict[str, dict[str, str]] = {}
    values = iter(argv)
    for arg in values:
        if arg == "--backend-config":
            arg = "--backend-config=" + next(values, "")
        if not arg.startswith("--backend-config="):
            continue
        spec = arg.split("=", 1)[1]
        backend, _, rest = spec.partition(",")
        if "=" not in rest:  # global form: --backend-config=<key>=<value>
            backend, rest = "", spec
        for pair in rest.split(","):
            key, _, value = pair.partition("=")
            configs.setdefault(backend, {})[key.strip()] = value.strip()
    return configs


def server_argv(pid: int | None = None) -> list[str]:
    """The command line of the tritonserver that started this stub."""
    pid = os.getppid() if pid is None else pid
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return [part.decode() for part in handle.read().split(b"\0") if part]


def default_max_batch_size(argv: list[str] | None = None) -> int:
    """default-max-batch-size for this backend, as the server was told (global value second)."""
    configs = parse_backend_configs(server_argv() if argv is None else argv)
    for scope in (BACKEND_NAME, ""):
        value = configs.get(scope, {}).get("default-max-batch-size")
        if value is not None:
            return int(value)
    return TRITON_DEFAULT_MAX_BATCH_SIZE
