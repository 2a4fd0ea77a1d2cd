"""The Python client against the protocol's machine-readable definition (docs/protocol/): every golden
header vector decodes to its fields, every invalid one is refused naming its field, and the control
messages the client sends are valid by the control messages' JSON Schema (python3-jsonschema).

    /usr/bin/python3 -m unittest clients/python/test_segd_client.py
"""
from __future__ import annotations

import json
import math
import unittest
from pathlib import Path

import jsonschema

import segd_client

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol"
VECTORS = json.loads((PROTOCOL / "mask-header-vectors.json").read_text())
SCHEMA = json.loads((PROTOCOL / "control-messages.schema.json").read_text())


class GoldenVectors(unittest.TestCase):
    def test_valid_vectors_decode_to_their_fields(self) -> None:
        self.assertGreater(len(VECTORS["valid"]), 0)
        for v in VECTORS["valid"]:
            with self.subTest(v["name"]):
                want = v["header"]
                h = segd_client.decode_header(bytes.fromhex(v["message"]))
                got = {
                    "messageType": h.message_type, "encodingCode": h.encoding, "streamId": h.stream_id,
                    "modelId": h.model_id, "seq": h.seq, "ptsMs": h.pts_ms, "captureTimeMs": h.capture_time_ms,
                    "width": h.width, "height": h.height, "headerLength": h.header_length,
                }
                self.assertEqual(got, {k: want[k] for k in got})
                if want["messageType"] == segd_client.MESSAGE_TYPE_MASK:
                    self.assertEqual(segd_client.ENCODINGS[h.encoding], want["encoding"])

    def test_invalid_vectors_are_refused_naming_the_field(self) -> None:
        self.assertGreater(len(VECTORS["invalid"]), 0)
        for v in VECTORS["invalid"]:
            with self.subTest(v["name"]):
                with self.assertRaises(ValueError) as cm:
                    segd_client.decode_header(bytes.fromhex(v["message"]))
                self.assertTrue(str(cm.exception).startswith(v["field"] + ":"), str(cm.exception))

    def test_constants_agree_with_the_vectors(self) -> None:
        first = VECTORS["valid"][0]
        self.assertEqual(bytes.fromhex(first["message"])[:4], b"SEGD")
        self.assertEqual(segd_client.HEADER_FIXED_BYTES + len(first["header"]["streamId"].encode()) + len(first["header"]["modelId"].encode()), first["header"]["headerLength"])
        self.assertTrue(math.isfinite(first["header"]["captureTimeMs"]))


class ControlMessages(unittest.TestCase):
    def validator(self, definition: str) -> jsonschema.Draft7Validator:
        return jsonschema.Draft7Validator({**SCHEMA, "$ref": f"#/definitions/{definition}"})

    def test_what_the_client_sends_is_a_valid_client_message(self) -> None:
        v = self.validator("client_message")
        for encoding in ("raw", "deflate"):
            for streams in ([], ["cam1", "cam2"]):
                for request in segd_client.control_requests(encoding, streams):
                    with self.subTest(request=request):
                        v.validate(request)

    def test_the_schema_refuses_what_the_server_refuses(self) -> None:
        v = self.validator("client_message")
        for bad in ({"type": "encoding", "encoding": "jpeg"}, {"type": "subscribe", "streams": []}, {"type": "subscribe", "stream": ["a"]}, {"type": "dance"}):
            with self.subTest(bad=bad):
                self.assertFalse(v.is_valid(bad))

    def test_the_replies_the_client_reads_are_server_messages(self) -> None:
        v = self.validator("server_message")
        v.validate({"type": "hello", "protocol": 1, "model": "m", "streams": ["cam1"], "encodings": ["raw", "deflate", "png"], "encoding": "raw", "maxControlMessageBytes": 65536})
        v.validate({"type": "model_card", "card": {"name": "m", "classes": [{"id": 0, "name": "sky", "color": [128, 128, 128]}]}})
        v.validate({"type": "error", "code": "bad_field", "field": "encoding", "expected": "one of: raw, deflate, png", "message": "encoding: got \"jpeg\"", "request": "encoding"})


if __name__ == "__main__":
    unittest.main()
