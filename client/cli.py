"""`python -m client`: drive a Triton model and report latency and throughput.

python -m client --model NAME --protocol http|grpc --shm none|system|cuda --concurrency N
                 [--requests N | --duration S | -p MS -s PCT -r N] [--rate R] [--verify]
                 [--report DIR]

Without --requests or --duration the client measures like perf_analyzer: windows of -p ms
(5000) until the last 3 agree within -s percent (10), at most -r windows (10); a result that
never settles is reported UNSTABLE. docs/client-vs-perf_analyzer.md maps every flag.

Sweep: comma lists run every combination in one command, one summary row per step,
e.g. --protocol http,grpc --shm none,system --concurrency 1,2,4,8,16 --duration 5.
Exit codes: 0 all requests ok; 1 some requests failed or a region could not be cleaned;
2 bad arguments, unknown model, unreachable server, unusable shm; 130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time

from tqdm import tqdm

import stack_settings
from client import flags, input_data, pa_export, report, search, server_metrics, stability
from client.errors import explain
from client.flags import _choices, _int_list  # noqa: F401 - imported from here by tests
from client.input_files import InputFileError
from client.load import LoadProfile, run_load
from client.metrics import ClientMetrics, MetricsPortError
from client.model_info import ModelSpecError, from_config
from client.shm import ShmUnavailableError, load_cuda_shm
from client.transport import InferenceServerException, Transport, default_url
from client.verify import NoReference, ReferenceUnavailableError, VersionedReference


class ClientError(RuntimeError):
    """A problem the user must fix before any load can run (exit code 2)."""


def _validate(args) -> None:
    if not args.concurrency or min(args.concurrency) < 1:
        raise ClientError(f"--concurrency must be >= 1, got {args.concurrency}")
    if args.requests is not None and args.requests < 1:
        raise ClientError(f"--requests must be >= 1, got {args.requests}")
    if args.duration is not None and args.duration <= 0:
        raise ClientError(f"--duration must be > 0, got {args.duration}")
    if args.rate is not None and args.rate <= 0:
        raise ClientError(f"--rate must be > 0, got {args.rate}")
    if args.linger < 0:
        raise ClientError(f"--linger must be >= 0, got {args.linger}")
    try:
        flags.resolve(args)
    except ValueError as exc:
        raise ClientError(str(exc)) from None


def _model_info(transport: Transport, args):
    client = transport.connect(args.timeout)
    try:
        try:
            live = client.is_server_live()
        except Exception as exc:  # noqa: BLE001 - connection refused, DNS, timeout...
            raise ClientError(
                f"cannot reach Triton at {transport.url} over {transport.protocol} ({exc}); "
                f"start it with `make up` or pass --url"
            ) from exc
        if not live:
            raise ClientError(f"Triton at {transport.url} is not live; see its log")
        try:
            ready = client.is_model_ready(args.model, args.model_version)
        except InferenceServerException:
            ready = False
        if not ready:
            try:
                names = transport.model_names(client)
            except InferenceServerException as exc:  # the index is a control API (key)
                names = f"unlisted ({explain(exc)})"
            version = f" version {args.model_version}" if args.model_version else ""
            raise ClientError(
                f"model {args.model!r}{version} is not ready on {transport.url}; "
                f"models there: {names or 'none'}"
            )
        config = transport.model_config(client, args.model, args.model_version)
    finally:
        client.close()
    return from_config(config, args.model_version), config


def _reference(args, config):
    if not args.verify:
        return NoReference()
    repository = args.model_repository or stack_settings.get_path("MODEL_REPOSITORY")
    return VersionedReference(repository, args.model, args.model_version, config)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (regions cleaned up) but with its own exit code."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def _targets(args) -> dict:
    """protocol -> (transport, model info, config), checked before any load runs."""
    urls = args.url.split(",") if args.url else [None] * len(args.protocol)
    if len(urls) != len(args.protocol):
        raise ClientError(
            f"--url has {len(urls)} address(es) for {len(args.protocol)} protocol(s); "
            "give one host:port per protocol, in the same order"
        )
    targets = {}
    for protocol, url in zip(args.protocol, urls, strict=True):
        transport = Transport(protocol, url or default_url(protocol))
        model, config = _model_info(transport, args)
        model = model.with_shapes(args.shapes)
        model.check_batch_size(args.batch_size)
        targets[protocol] = (transport, model, config)
    # Read and checked once, before any load (every protocol serves the same model).
    args.input_sets = input_data.load_input_sets(args.input_data, model, args.batch_size)
    if args.input_sets and len(args.input_sets) > 1 and set(args.shm) - {"none"}:
        raise ClientError(
            f"--input-data gives {len(args.input_sets)} entries, but shared-memory regions hold "
            f"one input set per worker: use --shm none, or one data entry"
        )
    return targets


def _profile(args, protocol: str, shm: str, concurrency: int, rate) -> LoadProfile:
    return LoadProfile(
        model=args.model,
        protocol=protocol,
        shm=shm,
        concurrency=concurrency,
        requests=args.requests,
        duration_s=args.duration,
        rate=rate,
        arrival=args.arrival,
        batch_size=args.batch_size,
        warmup_per_worker=args.warmup,
        verify_every=args.verify_every if args.verify else 0,
        timeout_s=args.timeout,
        intervals_s=args.intervals or None,
        request_id_prefix=f"{os.getpid()}.{next(_STEP_NUMBERS)}.",
    )


_STEP_NUMBERS = itertools.count()  # request ids stay unique across the steps of one run


def _run_step(profile: LoadProfile, transport, model, reference, metrics, args):
    step = f"{profile.model} {profile.protocol}/{profile.shm} c={profile.concurrency}"
    bar = tqdm(
        total=profile.requests,
        desc=step,
        unit="req",
        file=sys.stderr,
        disable=True if args.quiet else None,
    )  # None: off when not a terminal
    with bar, stability.statistics_reader(transport, model, profile.timeout_s) as statistics:
        controller = None
        if args.measurement is not None:
            controller = stability.WindowController(
                args.measurement,
                profile.batch_size,
                statistics,
                sampler=args.sampler,
                on_window=None
                if args.quiet
                else lambda w: tqdm.write(
                    f"{step} {stability.describe(w, args.measurement)}", file=sys.stderr
                ),
            )
        return run_load(
            profile,
            transport,
            model,
            reference,
            metrics,
            progress=lambda n: bar.update(n - bar.n),
            controller=controller,
            input_sets=args.input_sets,
        )


def _publish(args, summaries: list[dict], export: pa_export.ProfileExport) -> None:
    """The printed table, the report files and the error/cleanup lines."""
    print(report.table(summaries))
    for s in summaries:
        step = f"{s['protocol']}/{s['shm']} c={s['concurrency']}"
        if args.verify:
            print(
                f"{step}: verified {s['verified']} responses, max abs diff {s['max_abs_diff']:.3g}"
            )
        for kind, example in s["error_examples"].items():
            count = s["errors"].get(kind, 0)
            print(f"{step}: error ({kind}, {count}x): {example}", file=sys.stderr)
        if len(s["responses_by_version"]) > 1:  # a rollout ran: show the switch-over
            print(f"{step}: responses per version: {report.timeline_text(s['version_timeline'])}")
        for problem in s["cleanup_problems"]:
            print(f"{step}: cleanup: {problem}", file=sys.stderr)
        if s["stable"] is False:
            print(f"{step}: {stability.unstable_message(s)}", file=sys.stderr)
        for line in report.composing_lines(s):
            print(f"{step}: {line}")
        if s.get("server_metrics"):
            print(f"{step}: {server_metrics.line(s['server_metrics'])}")
    if args.report:
        paths = report.write(summaries, args.report)
        from client.plots import latency_vs_throughput  # noqa: PLC0415 - matplotlib is slow to import

        paths += (latency_vs_throughput(summaries, args.report / "latency_vs_throughput.png"),)
        print("report: " + " ".join(map(str, paths)))
    if args.latency_report_file:
        print(f"latency report: {pa_export.write_csv(summaries, args.latency_report_file)}")
    if exported := export.write():
        print(f"profile export: {exported}")


def _print_cleanup(exc: BaseException) -> bool:
    """Print the cleanup problems a failed run carries; True if there were any."""
    problems = getattr(exc, "cleanup_problems", [])
    for problem in problems:
        print(f"cleanup: {problem}", file=sys.stderr)
    return bool(problems)


def main(argv: list[str] | None = None, metrics: ClientMetrics | None = None) -> int:
    """Run the client; `metrics` shares one endpoint across runs (client.service), else its own."""
    args = flags.parser(__doc__).parse_args(argv)
    own_metrics = metrics is None
    # Ctrl-C even where SIGINT came in ignored (a background job of a script, nohup, CI).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)  # SIGTERM cleans up like Ctrl-C
    args.sampler = None  # Triton's /metrics sampler, with --collect-metrics
    summaries: list[dict] = []
    found = None  # the latency-threshold search's result, with -l
    export = pa_export.ProfileExport(args.profile_export_file)
    code = None
    try:
        _validate(args)
        if "cuda" in args.shm:
            load_cuda_shm()  # fail before any worker starts, with the reason
        targets = _targets(args)
        reference = _reference(args, next(iter(targets.values()))[2])
        args.sampler = server_metrics.start(args, args.model)
        if own_metrics:
            port = args.metrics_port
            if port is None:
                port = stack_settings.get_int("CLIENT_METRICS_PORT", 0)
            address = stack_settings.get("CLIENT_METRICS_ADDRESS", "127.0.0.1")
            metrics = ClientMetrics(port, address)
        for protocol, shm in itertools.product(args.protocol, args.shm):
            metrics.declare(args.model, protocol, shm)
        lingering = args.linger and metrics.server is not None
        if lingering:  # let Prometheus see the counters at 0 before the first request
            time.sleep(args.linger)

        def step(protocol: str, shm: str, concurrency: int, rate: float | None) -> dict:
            transport, model, _ = targets[protocol]
            profile = _profile(args, protocol, shm, concurrency, rate)
            result = _run_step(profile, transport, model, reference, metrics, args)
            summaries.append(report.summarize(result, args.percentile))
            if args.sampler is not None:
                summaries[-1]["server_metrics"] = server_metrics.for_run(args.sampler, result)
            export.add(result)
            return summaries[-1]

        if args.latency_threshold:
            found = search.for_args(args, step)
        else:
            for protocol, shm, concurrency, rate in itertools.product(
                args.protocol, args.shm, args.concurrency, args.rates
            ):
                step(protocol, shm, concurrency, rate)
        if lingering:  # ... and at their final values after the last one
            time.sleep(args.linger)
    except (
        ClientError,
        ModelSpecError,
        ShmUnavailableError,
        ReferenceUnavailableError,
        MetricsPortError,
        server_metrics.MetricsUnavailableError,
        InputFileError,
        stack_settings.SettingError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        _print_cleanup(exc)
        code = 2
    except (InferenceServerException, ConnectionError, TimeoutError) as exc:
        print(f"error: {args.model}: the request failed: {explain(exc)}", file=sys.stderr)
        _print_cleanup(exc)
        code = 2
    except KeyboardInterrupt as exc:
        name = "SIGTERM" if isinstance(exc, Terminated) else "interrupted"
        if not _print_cleanup(exc):
            print(f"{name}: shared-memory regions unregistered and freed", file=sys.stderr)
        code = 143 if isinstance(exc, Terminated) else 130
    finally:
        if own_metrics and metrics is not None:
            metrics.close()
        if args.sampler is not None:
            args.sampler.close()
    if summaries:  # an interrupted sweep still reports the steps it finished
        _publish(args, summaries, export)
    if found is not None:
        print(found.line())
        if args.report:
            print(f"report: {search.write(found, args.report)}")
    if code is not None:
        return code
    failed = any(s["requests_failed"] or s["cleanup_problems"] for s in summaries)
    return 1 if failed else 0
