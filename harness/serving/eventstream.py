"""AWS event-stream messages, the body of InvokeEndpointWithResponseStream (`application/
vnd.amazon.eventstream`, the framing botocore's `eventstream.py` parses): a prelude of total
and header lengths with its CRC32, string headers, the payload, and a CRC32 of it all."""

from __future__ import annotations

import binascii
import json
import struct

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode(), value.encode()
    return (struct.pack("!B", len(name_bytes)) + name_bytes + b"\x07"  # 7: a string value
            + struct.pack("!H", len(value_bytes)) + value_bytes)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    prelude = struct.pack("!II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    prelude += struct.pack("!I", binascii.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack("!I", binascii.crc32(body))


def payload_part(data: bytes) -> bytes:
    """One `PayloadPart` event: boto3 yields it as `{"PayloadPart": {"Bytes": data}}`."""
    return message({":event-type": "PayloadPart", ":content-type": "application/octet-stream",
                    ":message-type": "event"}, data)


def model_stream_error(text: str, code: str) -> bytes:
    """A `ModelStreamError` exception: boto3 raises it from the stream's iteration. `code` is
    `ModelInvocationTimeExceeded` or `StreamBroken`, as SageMaker names them."""
    return message({":exception-type": "ModelStreamError", ":content-type": "application/json",
                    ":message-type": "exception"},
                   json.dumps({"Message": text, "ErrorCode": code}).encode())
