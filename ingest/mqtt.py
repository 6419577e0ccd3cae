"""The ingester's MQTT client: paho's, with buffered reads and acknowledgements sent in bulk.

This subclass changes only how the bytes move, not what they say: one recv() fills a
buffer that paho's parser empties before the next select(), a batch's PUBACKs go out as
one write (`ack_all`), and messages skip the per-topic matcher. Why, measured, is in
docs/performance.md. It relies on three paho 2.x internals (`_sock_recv`,
`_packet_queue`, `_handle_on_message`); tests/ingest/test_mqtt.py exercises them against
a real broker, so that a paho upgrade that changes them fails there first.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

# Bytes asked of the socket per read: a few hundred typical readings.
READ_CHUNK = 64 * 1024
_PUBACK = struct.Struct("!BBH")  # fixed header (PUBACK, remaining length 2), packet id


class IngestClient(paho.Client):
    """A paho client for a QoS 1 subscriber with manual acknowledgement."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._read_buffer = b""
        self._read_pos = 0
        self._read_sock: object | None = None  # the socket the buffer came from
        self._may_refill = False
        self._topic_callbacks = False

    # --- reads ---------------------------------------------------------------
    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read once from the socket, then handle every packet that read brought in."""
        self._may_refill = True
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self.buffered_bytes():
            rc = super().loop_read(max_packets)
        return rc

    def buffered_bytes(self) -> int:
        """Bytes read from the current connection and not yet parsed."""
        if self._sock is not self._read_sock:
            return 0
        return len(self._read_buffer) - self._read_pos

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._sock is not self._read_sock:  # a new connection: nothing buffered belongs to it
            self._read_sock = self._sock
            self._read_buffer, self._read_pos = b"", 0
        start = self._read_pos
        if start >= len(self._read_buffer):
            if not self._may_refill:  # read once per loop_read: back to select(), writes and keep-alive
                raise BlockingIOError
            self._may_refill = False
            data = super()._sock_recv(READ_CHUNK)
            if len(data) <= bufsize:  # also b"": the broker closed the connection
                self._read_buffer, self._read_pos = b"", 0
                return data
            self._read_buffer, start = data, 0
        chunk = self._read_buffer[start : start + bufsize]  # shorter at the end of the buffer: a partial read
        self._read_pos = start + len(chunk)
        return chunk

    # --- acknowledgements -------------------------------------------------------
    def ack_all(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS 1 messages of the current connection (manual ack) in one write."""
        packet = b"".join([_PUBACK.pack(paho.PUBACK, 2, mid) for mid in mids])
        if packet:
            self._packet_queue(paho.PUBACK, packet, 0, 0)

    # --- delivery ---------------------------------------------------------------
    def message_callback_add(self, sub: str, callback) -> None:
        self._topic_callbacks = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        on_message = self.on_message
        if self._topic_callbacks or on_message is None:
            super()._handle_on_message(message)
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(paho.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise
