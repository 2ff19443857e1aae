"""Grids recorded on JetStream: a session's ``vp.grid.<session_id>`` messages (stream
``VP_GRID``; framing in ``spymaster_shared.bus``) read back into a GridFrames.

Each message is a framed ``GridBin`` header (the bin header) + an Arrow IPC record batch with
``FRAME_SCHEMA`` (one row per k). Bins are keyed by ``bin_seq`` (a redelivered or duplicated
message counts once); reading stops at the session's ``StreamEnd`` or when the stream has
nothing more for the subject.
"""

from __future__ import annotations

import asyncio

import numpy as np

from spymaster_shared.errors import BusError
from spymaster_shared.grid_frames import GridFrames
from spymaster_shared.grid_schema import BIN_FIELDS, CELL_FIELDS
from spymaster_shared.names import check_name

FETCH_BATCH = 256


async def _read(nats_url: str | None, session: str, progress: bool) -> GridFrames:
    from nats.js.api import ConsumerConfig, DeliverPolicy

    from spymaster_shared.bus.arrow_frames import decode_ipc
    from spymaster_shared.bus.connect import NatsSettings, connect
    from spymaster_shared.bus.framing import decode_frame
    from spymaster_shared.bus.messages import GridBin, StreamEnd
    from spymaster_shared.bus.streams import STREAM_GRID
    from spymaster_shared.bus.subjects import subject

    settings = NatsSettings.from_env()
    if nats_url:
        settings = NatsSettings(nats_url, settings.user, settings.password, settings.token,
                                settings.creds)  # fmt: skip
    try:
        nc = await asyncio.wait_for(
            connect(settings, name="harness-grid-reader", max_reconnect_attempts=0), 10
        )
    except Exception as exc:
        raise BusError(f"cannot reach NATS at {settings.url}: {exc}") from None
    subj = subject("grid", session)
    headers: dict[int, object] = {}
    batches: dict[int, object] = {}
    try:
        js = nc.jetstream()
        try:
            await js.stream_info(STREAM_GRID)
        except Exception as exc:
            raise BusError(f"stream {STREAM_GRID} not found on {settings.url}: {exc}") from None
        sub = await js.pull_subscribe(
            subj,
            stream=STREAM_GRID,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=60),
        )
        done = False
        while not done:
            try:
                msgs = await sub.fetch(FETCH_BATCH, timeout=2)
            except TimeoutError:
                break
            for msg in msgs:
                header, body = decode_frame(msg.data)
                if isinstance(header, StreamEnd):
                    done = True
                elif isinstance(header, GridBin):
                    headers[header.bin_seq] = header.bin
                    batches[header.bin_seq] = decode_ipc(body)
                await msg.ack()
            if progress:
                print(f"\r{subj}: {len(headers)} bins", end="", flush=True)
    finally:
        await nc.close()
    if progress:
        print()
    if not headers:
        raise BusError(f"no grids recorded on {subj} in {STREAM_GRID}")
    order = sorted(headers)
    bins = {
        n: np.array([getattr(headers[s], n) for s in order], dtype=code) for n, code in BIN_FIELDS
    }
    cells = {
        n: np.stack([batches[s].column(n).to_numpy(zero_copy_only=False) for s in order]).astype(
            code, copy=False
        )
        for n, code in CELL_FIELDS
    }
    return GridFrames(bins=bins, cells=cells)


def read_session_grids(nats_url: str | None, session: str, *, progress: bool = True) -> GridFrames:
    """All recorded grids of ``session`` (its dataset id), in bin order."""
    check_name(session, "session")
    return asyncio.run(_read(nats_url, session, progress))
