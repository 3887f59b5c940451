"""Drive generation into any combination of sinks; manifest and ready file only on full success.

Every slice is generated once (so the digest always covers all of them) and each batch goes to
the sinks that take its slice. Only after every sink's ``close()`` confirmed is the manifest
saved and then the ready file created; any failure aborts every sink and re-raises, and a ready
file left by an earlier run is removed first, so a failed run never looks successful.

Example::

    manifest = run(spec, [FlightSink("grpc+tcp://127.0.0.1:8815")], ready_file=Path("/ready/seed_done"))
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from seeder import interrupt
from seeder.errors import SeederError, SinkError
from seeder.generate import Layout, iter_batches
from seeder.manifest import SLICES, SeedManifest, build_manifest
from seeder.progress import Progress, _si
from seeder.sinks.base import Sink
from seeder.spec import SeedSpec


def run(spec: SeedSpec, sinks: Sequence[Sink], *, manifest_path: str | Path | None = None,
        ready_file: str | Path | None = None, progress: bool = True, stream: TextIO | None = None,
        tty: bool | None = None) -> SeedManifest:
    """Seed every sink; return the manifest (with digest). Raises SeederError on any failure."""
    if ready_file is not None:
        remove_ready_file(ready_file)
    for out in (manifest_path, ready_file):  # an unwritable destination fails before anything is sent
        if out is not None:
            _io(f"creating the directory for {out}", Path(out).parent.mkdir, 0o777, True, True)
    manifest = build_manifest(spec)
    prog = Progress(manifest.samples_total, stream=stream, enabled=progress, tty=tty)
    opened: list[Sink] = []
    hasher = hashlib.sha256()
    generated = dict.fromkeys(SLICES, 0)  # samples per slice
    received = [0] * len(sinks)  # samples per sink
    try:
        for sink in sinks:
            opened.append(sink)
            _guard(sink, sink.open)
        layout = choose_layout(sinks)
        for slice_name in SLICES:
            targets = [i for i, s in enumerate(sinks) if slice_name in s.slices]
            for batch in iter_batches(spec, slice_name, hasher=hasher, layout=layout):
                interrupt.check()
                n = batch.batch.num_rows
                for i in targets:
                    _guard(sinks[i], sinks[i].write, batch)
                    received[i] += n
                generated[slice_name] += n
                prog.update(n)
        for sink in sinks:
            interrupt.check()
            _guard(sink, sink.close)
        interrupt.check()
        manifest.digest = "sha256:" + hasher.hexdigest()
        manifest.sinks = {s.name: s.describe() for s in sinks}
        manifest.slices_by_sink = {s.name: [x for x in SLICES if x in s.slices] for s in sinks}
        # still inside the try: a manifest or ready file that cannot be written fails the run and
        # aborts the sinks (the OpenMetrics sink then removes its finished files)
        if manifest_path is not None:
            _io(f"writing the manifest {manifest_path}", manifest.save, manifest_path)
        if ready_file is not None:
            _io(f"writing the ready file {ready_file}", _write_ready, Path(ready_file), manifest.digest)
    except BaseException:
        for sink in opened:
            with contextlib.suppress(Exception):
                sink.abort()
        if manifest_path is not None:
            with contextlib.suppress(OSError):
                Path(manifest_path).unlink(missing_ok=True)
        prog.close()
        raise
    prog.close(closing_line(sinks, received, generated, prog.elapsed))
    return manifest


def closing_line(sinks: Sequence[Sink], received: Sequence[int], generated: dict[str, int],
                 secs: float) -> str:
    """What each sink received, and which generated slice went to no sink (if any).

    ``seed: done in 2.10s: flight grpc+tcp://127.0.0.1:8815 received 267.84k samples (main slice,
    127.54k samples/s); otlp slice (26.40k samples) went to no sink (generated for the digest only)``
    """
    secs = max(secs, 1e-9)
    parts = []
    for sink, n in zip(sinks, received, strict=True):
        slices = [x for x in SLICES if x in sink.slices and generated.get(x)]
        what = " + ".join(slices) + (" slice" if len(slices) == 1 else " slices") if slices else "no slice"
        where = sink.name if sink.describe() == sink.name else f"{sink.name} {sink.describe()}"
        parts.append(f"{where} received {_si(n)} samples ({what}, "
                     f"{_si(n / secs)} samples/s)")
    nowhere = [x for x in SLICES if generated.get(x) and not any(x in s.slices for s in sinks)]
    parts += [f"{x} slice ({_si(generated[x])} samples) went to no sink (generated for the digest only)"
              for x in nowhere]
    return f"seed: done in {secs:.2f}s: " + ("; ".join(parts) or "no sink")


def choose_layout(sinks: Sequence[Sink]) -> Layout | None:
    """The batch layout of a run: the first sink's that asks for one (the Flight sink does; the
    others take any layout), else the default. The data and the digest do not depend on it."""
    return next((s.layout for s in sinks if s.layout is not None), None)


def _guard(sink: Sink, fn, *args):  # type: ignore[no-untyped-def]
    """Call a sink method; unexpected exceptions become a SinkError naming the sink."""
    try:
        return fn(*args)
    except SeederError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SinkError(f"{sink.name} {sink.describe()}: {type(exc).__name__}: {first}") from exc


def remove_ready_file(path: str | Path) -> None:
    """Remove a ready file left by an earlier run; SeederError if one exists and cannot be removed."""
    try:
        Path(path).unlink(missing_ok=True)
    except NotADirectoryError:
        pass  # a parent is a file: no ready file can exist there
    except OSError as exc:
        raise SeederError(f"cannot remove the stale ready file {path}: {exc.strerror or exc}") from exc


def _io(what: str, fn, *args) -> None:  # type: ignore[no-untyped-def]
    """File output of the run itself; an OSError becomes a one-line SeederError."""
    try:
        fn(*args)
    except OSError as exc:
        raise SeederError(f"{what} failed: {exc.strerror or exc}") from exc


def _write_ready(path: Path, digest: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(digest + "\n")
    os.replace(tmp, path)
