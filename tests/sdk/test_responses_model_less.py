"""A Responses call without `model` through the real binary, with the official SDK.

OpenAI accepts `responses.create` with no `model` (a stored `prompt`,
`previous_response_id` or `conversation` names it). The gateway cannot route such
a call by model: it sends it to the catch-all upstream (`models = ["*"]`) exactly
as the SDK wrote it, and records and prices it by the model the answer names.
The catch-all here is a small recording server in this file.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

ANSWER_MODEL = "gpt-4o-mini"  # in the shipped price table: the record gets a cost
USAGE = {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}


def _response(status: str, usage: dict | None) -> dict:
    return {
        "id": "resp_recorded",
        "object": "response",
        "created_at": 1767000000,
        "status": status,
        "model": ANSWER_MODEL,
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


def _sse(events: list[dict]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


class _Recorder(BaseHTTPRequestHandler):
    """POST /v1/responses: keeps (path, body bytes) and answers like OpenAI, as
    JSON or (for `"stream": true`) as an event stream."""

    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.append((self.path, body))
        if json.loads(body).get("stream"):
            payload = _sse(
                [
                    {"type": "response.created", "sequence_number": 0, "response": _response("in_progress", None)},
                    {"type": "response.completed", "sequence_number": 1, "response": _response("completed", USAGE)},
                ]
            )
            content_type = "text/event-stream"
        else:
            payload = json.dumps(_response("completed", USAGE)).encode()
            content_type = "application/json"
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # quiet test output
        pass


@pytest.fixture
def recording_upstream():
    received: list[tuple[str, bytes]] = []
    handler = type("Handler", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def catch_all_gateway(start_gateway, recording_upstream):
    url, _received = recording_upstream
    return start_gateway(
        f"""
[[upstreams]]
name = "vendor"
base_url = "{url}/v1"
models = ["*"]
"""
    )


def _sdk_client(gateway, sent: list[bytes]) -> openai.OpenAI:
    """The SDK, noting the body bytes it puts on the wire."""

    def keep_body(request) -> None:
        sent.append(request.read())

    http_client = openai.DefaultHttpx2Client(event_hooks={"request": [keep_body]})
    return openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0, http_client=http_client)


PROMPT = {"id": "pmpt_abc123", "version": "2", "variables": {"city": "Oslo"}}


def test_model_less_create_reaches_the_catch_all_byte_for_byte(catch_all_gateway, recording_upstream):
    _url, received = recording_upstream
    sent: list[bytes] = []
    with _sdk_client(catch_all_gateway, sent) as client:
        raw = client.responses.with_raw_response.create(
            prompt=PROMPT, input="What is the weather like?", metadata={"ticket": "T-1"}
        )
    response = raw.parse()
    assert response.id == "resp_recorded"
    assert response.model == ANSWER_MODEL
    assert len(sent) == 1 and b'"model"' not in sent[0], sent
    assert received == [("/v1/responses", sent[0])], "the upstream must get the SDK's bytes unchanged"
    record = catch_all_gateway.record(raw.headers["x-request-id"])
    assert record["model"] == ANSWER_MODEL, record
    assert record["upstream"] == "vendor"
    assert record["cost_usd"] not in (None, "0"), record


def test_model_less_stream_reaches_the_catch_all_byte_for_byte_and_is_priced(catch_all_gateway, recording_upstream):
    _url, received = recording_upstream
    sent: list[bytes] = []
    with _sdk_client(catch_all_gateway, sent) as client:
        with client.responses.with_streaming_response.create(prompt=PROMPT, input="hi", stream=True) as raw:
            request_id = raw.headers["x-request-id"]
            events = [event.type for event in raw.parse()]
    assert events == ["response.created", "response.completed"]
    assert len(sent) == 1 and b'"model"' not in sent[0], sent
    assert received == [("/v1/responses", sent[0])], "the upstream must get the SDK's bytes unchanged"
    record = catch_all_gateway.record(request_id)
    assert record["model"] == ANSWER_MODEL, record
    assert record["stream"] is True
    assert record["completion_tokens"] == USAGE["output_tokens"]
    assert record["cost_usd"] not in (None, "0"), record
