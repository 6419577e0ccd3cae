"""What a load generator publishes: its spec, and readings as a controller sends them."""

from __future__ import annotations

import time
from dataclasses import dataclass

# A run is abandoned when the stored count has not moved for this long; a publisher
# gives up on a broker that has stopped acknowledging after the same time.
STALL_S = 60.0

STAMP_PLACEHOLDER = "0000-00-00T00:00:00.000000Z"  # same length as every stamp


@dataclass(frozen=True, slots=True)
class LoadSpec:
    mqtt_url: str
    client_id: str
    topic_prefix: str
    lamp_ids: tuple[str, ...]  # lamps of this publisher only: stamps stay unique per lamp
    messages: int
    readings_per_message: int = 1
    messages_per_s: float | None = None  # None: as fast as the broker acknowledges
    window: int = 1000  # most messages published and not yet acknowledged
    publisher: str = "raw"  # a key of benchmarks.ingest.load.PUBLISHERS


class Stamper:
    """RFC 3339 stamps of the current time, strictly increasing (by 1 µs at least)."""

    def __init__(self) -> None:
        self._last_us = 0
        self._second = -1
        self._prefix = ""

    def stamp(self) -> str:
        now_us = max(time.time_ns() // 1000, self._last_us + 1)
        self._last_us = now_us
        second, micro = divmod(now_us, 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{micro:06d}Z"


def reading_json(stamp: str, seq: int) -> str:
    """One reading as a controller sends it: ten fields, about 190 bytes."""
    return (
        f'{{"ts":"{stamp}","seq":{seq},"voltage_v":{228 + seq % 7 * 0.5:.1f},"current_a":{0.21 + seq % 5 * 0.01:.3f},'
        f'"power_w":{48 + seq % 9 * 0.5:.1f},"power_factor":0.96,"energy_wh":{1_500_000 + seq * 0.9:.1f},'
        f'"dim_level":100,"driver_temp_c":{35 + seq % 11 * 0.3:.1f},"rssi_dbm":{-70 - seq % 20}}}'
    )
