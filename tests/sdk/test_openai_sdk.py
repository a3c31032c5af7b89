"""The official OpenAI Python SDK against the real promptgate binary.

Everything here talks to the built-in deterministic `mock` upstream (models
`mock-*`, see src/providers/mock.rs), so answers are a pure function of the
request and the suite needs no network and no credentials.
"""

from __future__ import annotations

import array
import asyncio
import base64
import json
import math

import httpx
import openai
import pytest
from openai.types.responses import ResponseCompletedEvent, ResponseTextDeltaEvent

MESSAGES = [
    {"role": "system", "content": "You are a test."},
    {"role": "user", "content": "Say something deterministic."},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the documents.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    }
]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _raw_post(gateway, path: str, content: bytes) -> httpx.Response:
    """A request the SDK cannot make (it always sends valid, complete JSON)."""
    return httpx.post(
        f"{gateway.base_url}{path}",
        content=content,
        headers={**_auth(gateway.key), "Content-Type": "application/json"},
        timeout=10,
    )


def _record(gateway, request_id: str) -> dict:
    return gateway.record(request_id)


def _decode_f32(b64: str) -> list[float]:
    return array.array("f", base64.b64decode(b64)).tolist()


# --- chat completions -------------------------------------------------------------


def test_chat_completion(client):
    raw = client.chat.completions.with_raw_response.create(model="mock-1", messages=MESSAGES)
    request_id = raw.headers.get("x-request-id")
    assert request_id, f"no x-request-id header in {dict(raw.headers)}"
    completion = raw.parse()
    assert completion._request_id == request_id
    assert completion.object == "chat.completion"
    assert completion.model == "mock-1"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_chat_completion_async(gateway):
    async def main():
        async with openai.AsyncOpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0) as aclient:
            return await asyncio.gather(
                aclient.chat.completions.create(model="mock-1", messages=MESSAGES),
                aclient.chat.completions.create(model="mock-1", messages=MESSAGES),
            )

    first, second = asyncio.run(main())
    assert first.choices[0].message.content
    assert first.usage.prompt_tokens > 0
    # Deterministic upstream: the same messages give the same answer.
    assert first.choices[0].message.content == second.choices[0].message.content


def test_chat_stream_without_usage(client):
    expected = client.chat.completions.create(model="mock-1", messages=MESSAGES).choices[0].message.content

    pieces, finish_reasons, chunks = [], [], 0
    with client.chat.completions.create(model="mock-1", messages=MESSAGES, stream=True) as stream:
        for chunk in stream:
            chunks += 1
            assert chunk.object == "chat.completion.chunk"
            # The gateway asked the upstream for usage on the client's behalf;
            # the client did not ask, so no chunk may carry it.
            assert chunk.usage is None, f"unexpected usage chunk: {chunk}"
            for choice in chunk.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                if choice.finish_reason:
                    finish_reasons.append(choice.finish_reason)
    assert chunks > 1
    assert "".join(pieces) == expected
    assert finish_reasons == ["stop"]


def test_chat_stream_with_usage(client):
    pieces, chunks = [], []
    with client.chat.completions.create(
        model="mock-1",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        for chunk in stream:
            chunks.append(chunk)
            for choice in chunk.choices:
                pieces.append(choice.delta.content or "")
    assert pieces and "".join(pieces)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens > 0
    assert last.usage.prompt_tokens > 0
    # Exactly one chunk carries usage: the last one.
    assert [c.usage is not None for c in chunks].count(True) == 1


def test_chat_stream_tool_calls(client):
    calls: dict[int, dict] = {}
    finish = None
    with client.chat.completions.create(
        model="mock-tools",
        messages=[{"role": "user", "content": "Find the refund policy."}],
        tools=TOOLS,
        stream=True,
    ) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for tc in choice.delta.tool_calls or []:
                    call = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                    if tc.id:
                        call["id"] = tc.id
                    if tc.function is not None:
                        call["name"] += tc.function.name or ""
                        call["arguments"] += tc.function.arguments or ""
    assert list(calls) == [0], calls
    call = calls[0]
    assert call["id"]
    assert call["name"] == "search"
    arguments = json.loads(call["arguments"])
    assert isinstance(arguments, dict) and arguments
    assert finish == "tool_calls"


def test_chat_tool_calls_non_stream(client):
    completion = client.chat.completions.create(
        model="mock-tools",
        messages=[{"role": "user", "content": "Find the refund policy."}],
        tools=TOOLS,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "search"
    assert isinstance(json.loads(call.function.arguments), dict)


def test_chat_n_choices(client):
    completion = client.chat.completions.create(model="mock-1", messages=MESSAGES, n=2)
    assert [c.index for c in completion.choices] == [0, 1]
    assert all(c.message.content for c in completion.choices)


def test_streamed_request_is_recorded(client, gateway):
    raw = client.chat.completions.with_raw_response.create(
        model="mock-1",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    request_id = raw.headers.get("x-request-id")
    assert request_id
    usage = None
    with raw.parse() as stream:
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
    assert usage is not None

    record = _record(gateway, request_id)
    assert record["id"] == request_id
    assert record["team"] == gateway.team
    assert record["model"] == "mock-1"
    assert record["stream"] is True
    assert record["outcome"] == "ok"
    assert record["status"] == 200
    assert record["prompt_tokens"] == usage.prompt_tokens
    assert record["completion_tokens"] == usage.completion_tokens


def test_client_request_id_is_echoed(client):
    raw = client.chat.completions.with_raw_response.create(
        model="mock-1", messages=MESSAGES, extra_headers={"x-request-id": "sdk-test-echo-1"}
    )
    assert raw.headers.get("x-request-id") == "sdk-test-echo-1"
    assert raw.parse().choices[0].message.content


# --- embeddings -------------------------------------------------------------------


def test_embeddings_float(client):
    result = client.embeddings.create(
        model="mock-embedding", input=["a", "b"], dimensions=64, encoding_format="float"
    )
    assert [d.index for d in result.data] == [0, 1]
    for d in result.data:
        assert isinstance(d.embedding, list)
        assert len(d.embedding) == 64
        assert math.isclose(math.sqrt(sum(x * x for x in d.embedding)), 1.0, rel_tol=1e-3)
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.prompt_tokens > 0


def test_embeddings_base64(client):
    floats = client.embeddings.create(model="mock-embedding", input=["a", "b"], dimensions=64, encoding_format="float")

    # Asked for explicitly: the SDK hands the base64 string over as it is.
    explicit = client.embeddings.create(
        model="mock-embedding", input=["a", "b"], dimensions=64, encoding_format="base64"
    )
    assert len(explicit.data) == 2
    for got, want in zip(explicit.data, floats.data):
        assert isinstance(got.embedding, str)
        decoded = _decode_f32(got.embedding)
        assert len(decoded) == 64
        assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(decoded, want.embedding))

    # Not given: the SDK asks for base64 on the wire and decodes to floats.
    default = client.embeddings.create(model="mock-embedding", input=["a", "b"], dimensions=64)
    assert len(default.data) == 2
    for got, want in zip(default.data, floats.data):
        assert isinstance(got.embedding, list)
        assert len(got.embedding) == 64
        assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(got.embedding, want.embedding))


# --- responses, completions, models ---------------------------------------------------


def test_responses_create(client):
    response = client.responses.create(model="mock-1", input="hi")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0


def test_responses_stream(client):
    expected = client.responses.create(model="mock-1", input="hi").output_text
    deltas, completed, kinds = [], None, []
    with client.responses.create(model="mock-1", input="hi", stream=True) as stream:
        for event in stream:
            kinds.append(event.type)
            if isinstance(event, ResponseTextDeltaEvent):
                deltas.append(event.delta)
            elif isinstance(event, ResponseCompletedEvent):
                completed = event.response
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert completed is not None
    assert "".join(deltas) == expected
    assert completed.output_text == expected
    assert completed.usage.output_tokens > 0


def test_completions_legacy(client):
    completion = client.completions.create(model="mock-1", prompt="hi")
    assert completion.object == "text_completion"
    assert completion.choices[0].text
    assert completion.choices[0].index == 0
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0


def test_completions_legacy_stream(client):
    expected = client.completions.create(model="mock-1", prompt="hi").choices[0].text
    with client.completions.create(model="mock-1", prompt="hi", stream=True) as stream:
        chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == expected


def test_models_list_and_retrieve(client):
    ids = [m.id for m in client.models.list()]
    assert "mock-1" in ids
    assert "mock-embedding" in ids
    model = client.models.retrieve("mock-1")
    assert model.id == "mock-1"
    assert model.object == "model"


# --- errors -----------------------------------------------------------------------


def test_error_bad_key(gateway):
    with openai.OpenAI(base_url=gateway.base_url, api_key="pg-not-a-real-key", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(model="mock-1", messages=MESSAGES)
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"


def test_error_malformed_json(gateway):
    r = _raw_post(gateway, "/chat/completions", b'{"model": "mock-1", "messages": [')
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]


def test_error_empty_messages(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="mock-1", messages=[])
    assert info.value.status_code == 400
    assert info.value.param == "messages"


def test_error_missing_model(gateway, client):
    r = _raw_post(gateway, "/chat/completions", json.dumps({"messages": MESSAGES}).encode())
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "model"
    # The same through the SDK: `model` null in the body is as good as missing.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="mock-1", messages=MESSAGES, extra_body={"model": None})
    assert info.value.param == "model"


def test_error_unknown_model(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-nonexistent", messages=MESSAGES)
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"


def test_error_upstream_5xx_becomes_502(client):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="mock-error-500", messages=MESSAGES)
    assert isinstance(info.value, openai.InternalServerError)
    assert info.value.status_code == 502
    assert info.value.type == "upstream_error"
    assert info.value.request_id


def test_error_upstream_4xx_passed_through(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="mock-error-429", messages=MESSAGES)
    assert info.value.status_code == 429


# --- response cache -------------------------------------------------------------------


def _fresh_messages(label: str) -> list[dict]:
    """Messages no earlier test (or run) has sent, so the first call is a miss."""
    import uuid

    return [{"role": "user", "content": f"{label} {uuid.uuid4().hex}"}]


CACHE_60 = {"cache": {"ttl": 60}}


def test_cache_non_stream_answer_replayed_as_stream(client, gateway):
    messages = _fresh_messages("cache me, then stream me")
    raw = client.chat.completions.with_raw_response.create(model="mock-1", messages=messages, extra_body=CACHE_60)
    assert raw.headers.get("x-promptgate-cache") == "miss"
    stored = raw.parse()
    text = stored.choices[0].message.content
    assert text

    # The identical non-stream call is answered from the cache.
    raw = client.chat.completions.with_raw_response.create(model="mock-1", messages=messages, extra_body=CACHE_60)
    assert raw.headers.get("x-promptgate-cache") == "hit"
    again = raw.parse()
    assert again.id == stored.id
    assert again.choices[0].message.content == text
    assert _record(gateway, raw.headers["x-request-id"])["cache"] == "hit"

    # The same messages as a stream: the stored answer is replayed as SSE, and
    # the SDK parses it to the same text.
    raw = client.chat.completions.with_raw_response.create(
        model="mock-1", messages=messages, stream=True, extra_body=CACHE_60
    )
    assert raw.headers.get("x-promptgate-cache") == "hit"
    assert raw.headers.get("content-type", "").startswith("text/event-stream")
    request_id = raw.headers.get("x-request-id")
    pieces, finish_reasons, chunks = [], [], 0
    with raw.parse() as stream:
        for chunk in stream:
            chunks += 1
            assert chunk.object == "chat.completion.chunk"
            assert chunk.id == stored.id
            assert chunk.usage is None, f"usage chunk the client did not ask for: {chunk}"
            for choice in chunk.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                if choice.finish_reason:
                    finish_reasons.append(choice.finish_reason)
    assert chunks > 1
    assert "".join(pieces) == text
    assert finish_reasons == [stored.choices[0].finish_reason]
    record = _record(gateway, request_id)
    assert record["cache"] == "hit"
    assert record["status"] == 200

    # With usage asked for: one last chunk carries the stored usage.
    with client.chat.completions.create(
        model="mock-1",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=CACHE_60,
    ) as stream:
        chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert [c.usage is not None for c in chunks].count(True) == 1
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens == stored.usage.prompt_tokens
    assert last.usage.completion_tokens == stored.usage.completion_tokens


def test_cache_stream_answer_serves_non_stream(client):
    messages = _fresh_messages("stream me, then ask plainly")
    raw = client.chat.completions.with_raw_response.create(
        model="mock-1", messages=messages, stream=True, extra_body=CACHE_60
    )
    assert raw.headers.get("x-promptgate-cache") == "miss"
    with raw.parse() as stream:
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text

    raw = client.chat.completions.with_raw_response.create(model="mock-1", messages=messages, extra_body=CACHE_60)
    assert raw.headers.get("x-promptgate-cache") == "hit"
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == text
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_cache_is_off_unless_asked(client):
    messages = _fresh_messages("not cached")
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(model="mock-1", messages=messages)
        assert raw.headers.get("x-promptgate-cache") == "bypass"


# --- prompt registry ------------------------------------------------------------------


def test_prompt_from_the_registry_via_extra_body(client, gateway):
    """A prompt created through the admin API, used by the SDK through
    `extra_body`: the gateway names the version in headers and the upstream
    (`mock-echo` answers with the body it received) gets the rendered messages
    first, then the client's own."""
    import secrets

    name = f"sdk/greet-{secrets.token_hex(4)}"
    admin = {"Authorization": f"Bearer {gateway.admin_key}"}
    r = httpx.post(
        f"{gateway.base_url}/prompts/{name}/versions",
        json={
            "type": "chat",
            "messages": [
                {"role": "system", "content": "You are {{persona}}."},
                {"role": "user", "content": "Hello {{name}}!"},
            ],
            "config": {"model": "mock-1", "temperature": 0.3},
            "variables_schema": {"persona": "string", "name": "string"},
            "labels": ["production"],
        },
        headers=admin,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    sha256 = r.json()["sha256"]
    variables = {"persona": "a pirate", "name": "Ann"}
    own = [{"role": "user", "content": "and one more thing"}]
    expected = [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "Hello Ann!"},
        *own,
    ]

    for extra in (
        {"prompt": {"id": name, "variables": variables}},
        {"prompt_id": name, "prompt_version": 1, "prompt_variables": variables},  # LiteLLM aliases
    ):
        raw = client.chat.completions.with_raw_response.create(model="mock-echo", messages=own, extra_body=extra)
        assert raw.headers.get("x-promptgate-prompt") == f"{name}@1"
        assert raw.headers.get("x-promptgate-prompt-sha256") == sha256
        received = json.loads(raw.parse().choices[0].message.content)
        assert received["messages"][: len(expected)] == expected
        assert received["model"] == "mock-echo"  # the request's own field wins
        assert received["temperature"] == 0.3  # the prompt's config fills the rest
        assert not {"prompt", "prompt_id", "prompt_version", "prompt_variables"} & received.keys()

    # A missing variable is a 400 naming it.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="mock-echo", messages=own, extra_body={"prompt": {"id": name, "variables": {"persona": "x"}}}
        )
    assert info.value.param == "prompt.variables.name"


GROUNDING_CONTEXT = "The Eiffel Tower is 330 metres tall and stands in Paris. It opened in 1889."


def test_grounding_headers_on_a_non_stream_answer(client):
    """`extra_body={"grounding": …}`: the answer (here the user's own words,
    repeated by `mock-repeat`) is scored and the verdict comes back in headers."""
    raw = client.chat.completions.with_raw_response.create(
        model="mock-repeat",
        messages=[{"role": "user", "content": "The Eiffel Tower opened in 1925 in Berlin."}],
        extra_body={"grounding": {"context": [GROUNDING_CONTEXT]}},
    )
    assert raw.headers["x-promptgate-flagged"] == "true"
    assert 0.0 <= float(raw.headers["x-promptgate-grounding"]) < 1.0
    assert raw.parse().choices[0].message.content.startswith("The Eiffel Tower")


def test_grounding_comment_does_not_disturb_the_sdk_stream(client):
    """The verdict travels as an SSE comment before `[DONE]`; the SDK ignores
    it and still yields every chunk."""
    answer = "The Eiffel Tower opened in 1889."
    stream = client.chat.completions.create(
        model="mock-repeat",
        messages=[{"role": "user", "content": answer}],
        stream=True,
        extra_body={"grounding": {"context": [GROUNDING_CONTEXT]}},
    )
    text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
    assert text == answer
