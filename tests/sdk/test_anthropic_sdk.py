"""The official Anthropic SDK through promptgate against the mock, and the
official OpenAI SDK to an upstream of `kind = "anthropic"` (the mock on its
own port, speaking the Messages API); see conftest.py."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest

from conftest import ANTHROPIC_UPSTREAM_KEY

HELLO = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="session")
def claude(gateway):
    with anthropic.Anthropic(base_url=gateway.origin, api_key=gateway.key, max_retries=0, timeout=30.0) as c:
        yield c


def _record(gateway, request_id: str) -> dict:
    headers = {"Authorization": f"Bearer {gateway.key}"}
    for _ in range(200):
        r = httpx.get(f"{gateway.base_url}/requests/{request_id}", headers=headers, timeout=10)
        if r.status_code == 200:
            return r.json()
        time.sleep(0.025)
    raise AssertionError(f"record {request_id} never appeared")


# ------------------------------------------------------------ anthropic SDK → mock


def test_messages_create(claude, gateway):
    raw = claude.messages.with_raw_response.create(model="mock-1", max_tokens=64, messages=HELLO)
    message = raw.parse()
    assert isinstance(message, anthropic.types.Message)
    assert message.role == "assistant"
    assert message.stop_reason == "end_turn"
    assert isinstance(message.content[0], anthropic.types.TextBlock)
    assert len(message.content[0].text.split()) >= 8
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert float(raw.headers["x-promptgate-cost-usd"]) > 0
    record = _record(gateway, raw.headers["x-request-id"])
    assert record["endpoint"] == "messages"
    assert record["prompt_tokens"] == message.usage.input_tokens
    assert record["completion_tokens"] == message.usage.output_tokens


def test_messages_stream(claude):
    with claude.messages.stream(model="mock-1", max_tokens=64, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 8
    assert final.content[0].text == "".join(pieces)
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 1


def test_messages_tool_use_round_trip(claude):
    first = claude.messages.create(model="mock-1", max_tokens=64, tools=[WEATHER_TOOL], messages=HELLO)
    assert first.stop_reason == "tool_use"
    call = first.content[0]
    assert isinstance(call, anthropic.types.ToolUseBlock)
    assert call.name == "get_weather" and isinstance(call.input, dict)
    second = claude.messages.create(
        model="mock-1",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[
            *HELLO,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C"}]},
        ],
    )
    assert second.stop_reason == "end_turn"
    assert isinstance(second.content[0], anthropic.types.TextBlock)


def test_messages_prompt_cache_usage(claude):
    system = [{"type": "text", "text": "house rules " * 300, "cache_control": {"type": "ephemeral"}}]
    first = claude.messages.create(model="mock-cache-sdk", max_tokens=16, system=system, messages=HELLO)
    second = claude.messages.create(model="mock-cache-sdk", max_tokens=16, system=system, messages=HELLO)
    assert first.usage.cache_creation_input_tokens > 500
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0


def test_count_tokens(claude):
    counted = claude.messages.count_tokens(model="mock-1", messages=HELLO)
    assert isinstance(counted, anthropic.types.MessageTokensCount)
    assert counted.input_tokens > 0


def test_messages_errors(gateway, claude):
    with anthropic.Anthropic(base_url=gateway.origin, api_key="pg-not-a-key", max_retries=0) as bad:
        with pytest.raises(anthropic.AuthenticationError) as e:
            bad.messages.create(model="mock-1", max_tokens=8, messages=HELLO)
    assert e.value.status_code == 401
    assert e.value.body["error"]["type"] == "authentication_error"

    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model="mock-1", max_tokens=8, messages=[])
    assert e.value.body["error"]["type"] == "invalid_request_error"

    with pytest.raises(anthropic.RateLimitError) as e:
        claude.messages.create(model="mock-error-429", max_tokens=8, messages=HELLO)
    assert e.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "mock upstream error 429"}}

    with pytest.raises(anthropic.OverloadedError) as e:
        claude.messages.create(model="mock-error-529", max_tokens=8, messages=HELLO)
    assert e.value.status_code == 529
    assert e.value.body["error"]["type"] == "overloaded_error"


# ------------------------------------------------------------ openai SDK → anthropic upstream


def test_openai_sdk_to_anthropic_upstream_plain_and_priced(client, gateway):
    raw = client.chat.completions.with_raw_response.create(
        model="claude-sonnet-4-5", messages=[{"role": "system", "content": "Be brief."}, *HELLO]
    )
    completion = raw.parse()
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content
    usage = completion.usage
    record = _record(gateway, raw.headers["x-request-id"])
    assert record["upstream"] == "claude"
    # claude-sonnet-4-5 from the price table: 3.00 in, 15.00 out (USD per 1M tokens).
    want = (usage.prompt_tokens * 3 + usage.completion_tokens * 15) / 1_000_000
    assert float(record["cost_usd"]) == pytest.approx(want, abs=1e-12)
    assert raw.headers["x-promptgate-cost-usd"] == record["cost_usd"]


def test_openai_sdk_to_anthropic_upstream_stream_with_usage(client):
    stream = client.chat.completions.create(
        model="claude-sonnet-4-5", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) >= 8
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_openai_sdk_to_anthropic_upstream_tool_calls_both_ways(client):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_TOOL["input_schema"]}}]
    first = client.chat.completions.create(model="claude-sonnet-4-5", messages=HELLO, tools=tools)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments), dict)
    second = client.chat.completions.create(
        model="claude-sonnet-4-5",
        tools=tools,
        messages=[
            *HELLO,
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "18C"},
        ],
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content

    stream = client.chat.completions.create(model="claude-sonnet-4-5", messages=HELLO, tools=tools, stream=True)
    arguments = ""
    names = []
    for chunk in stream:
        for c in chunk.choices[0].delta.tool_calls or []:
            if c.function.name:
                names.append(c.function.name)
            arguments += c.function.arguments or ""
    assert names == ["get_weather"]
    assert isinstance(json.loads(arguments), dict)


def test_openai_sdk_to_anthropic_upstream_json_mode(client):
    completion = client.chat.completions.create(
        model="claude-sonnet-4-5", messages=HELLO, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content), dict)


def test_openai_sdk_to_anthropic_upstream_errors(client, gateway):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="claude-sonnet-4-5", messages=HELLO, n=2)
    assert e.value.body["param"] == "n"
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="claude/mock-error-429", messages=HELLO)
    # The upstream's credential is never logged.
    assert ANTHROPIC_UPSTREAM_KEY not in gateway.log()
