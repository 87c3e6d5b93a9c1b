"""A plain tritonclient system-shared-memory client, as Triton's own examples write one.

It sends no control key, as tritonclient's simple_http_shm_client.py / simple_grpc_shm_client.py,
perf_analyzer --shared-memory and model_analyzer don't: it works against a server whose
TRITON_RESTRICTED_APIS leaves out `shared-memory`, and is refused (exit 3, with the fix) under
the default. It registers an input and an output region, infers through them, checks the result
against the same request sent without shm, then unregisters and unlinks both regions.

    python scripts/plain_shm_client.py --url 127.0.0.1:8000 --model simple_transformer
    python scripts/plain_shm_client.py --protocol grpc --url 127.0.0.1:8001 --save out.npy
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

REFUSED = 3
# The same request with and without shm must give the same numbers (one server, one model).
RTOL, ATOL = 1e-5, 1e-6
FIX = (
    "this server keeps shared-memory registration behind its control key. Either send the key "
    "(header tos-control-key; `make key` prints it), or start the server with `shared-memory` "
    "left out of TRITON_RESTRICTED_APIS, e.g. "
    "TRITON_RESTRICTED_APIS=model-repository,trace,logging (docs/security.md says what that lets in)"
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="127.0.0.1:8000")
    parser.add_argument("--protocol", choices=["http", "grpc"], default="http")
    parser.add_argument("--model", default="simple_transformer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="write the inputs and outputs to this .npz file")
    return parser.parse_args(argv)


def tensor(metadata, protocol: str, which: str) -> tuple[str, list[int], str]:
    """(name, shape with batch 1, datatype) of the model's first input or output."""
    entry = (metadata[which] if protocol == "http" else getattr(metadata, which))[0]
    if protocol == "http":
        name, shape, datatype = entry["name"], entry["shape"], entry["datatype"]
    else:
        name, shape, datatype = entry.name, list(entry.shape), entry.datatype
    return name, [1 if int(dim) < 0 else int(dim) for dim in shape], datatype


def main(argv: list[str]) -> int:
    args = parse(argv)
    module = httpclient if args.protocol == "http" else grpcclient
    client = module.InferenceServerClient(args.url)
    metadata = client.get_model_metadata(args.model)
    in_name, in_shape, in_type = tensor(metadata, args.protocol, "inputs")
    out_name, out_shape, out_type = tensor(metadata, args.protocol, "outputs")
    data = (
        np.random.default_rng(args.seed)
        .standard_normal(in_shape)
        .astype(triton_to_np_dtype(in_type))
    )
    out_bytes = int(np.prod(out_shape)) * np.dtype(triton_to_np_dtype(out_type)).itemsize
    suffix = f"plain_{os.getpid()}"
    regions = {f"in_{suffix}": data.nbytes, f"out_{suffix}": out_bytes}
    handles, registered = {}, []
    try:
        for name, size in regions.items():
            handles[name] = shm.create_shared_memory_region(name, f"/{name}", size)
        shm.set_shared_memory_region(handles[f"in_{suffix}"], [data])
        for name, size in regions.items():
            client.register_system_shared_memory(name, f"/{name}", size)
            registered.append(name)

        request = module.InferInput(in_name, in_shape, in_type)
        request.set_shared_memory(f"in_{suffix}", data.nbytes)
        wanted = module.InferRequestedOutput(out_name)
        wanted.set_shared_memory(f"out_{suffix}", out_bytes)
        client.infer(args.model, [request], outputs=[wanted])
        through_shm = shm.get_contents_as_numpy(
            handles[f"out_{suffix}"], triton_to_np_dtype(out_type), out_shape
        ).copy()

        plain = module.InferInput(in_name, in_shape, in_type)
        plain.set_data_from_numpy(data)
        reference = client.infer(args.model, [plain]).as_numpy(out_name)
    except InferenceServerException as error:
        if "is restricted, expecting header" in str(error):
            print(f"refused: {error}\n  -> {FIX}", file=sys.stderr)
            return REFUSED
        raise
    finally:
        for name in registered:
            client.unregister_system_shared_memory(name)
        for handle in handles.values():
            shm.destroy_shared_memory_region(handle)
    if not np.allclose(through_shm, reference, rtol=RTOL, atol=ATOL):
        worst = float(np.max(np.abs(through_shm - reference)))
        print(
            f"MISMATCH: shm output differs from the plain request by {worst:.3g}", file=sys.stderr
        )
        return 1
    if args.save:
        np.savez(args.save, input=data, output=through_shm)
    print(
        f"ok: {args.model} over {args.protocol} system shm, {in_name}{in_shape} -> "
        f"{out_name}{out_shape}, equal to the plain request (rtol {RTOL}); regions unregistered"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
