"""Tool returns: what a multi-step cassette holds in the next request, shown between the steps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cassettefactory import (
    SEARCH_ID,
    SEARCHED,
    SEND_ID,
    USER,
    asking,
    call,
    cassette,
    interaction,
    json_request,
    returned,
    send_message,
    three_steps,
    write,
)
from streamreel.core.cassette import RecordedRequest
from streamreel.core.errors import ParserError
from streamreel.core.messages import AgentMessage, ToolCallMessage, ToolReturnMessage
from streamreel.core.parser import InterfaceSettings
from streamreel.core.providers import StreamKind
from streamreel.core.providers.tool_results import ToolResult, tool_results
from streamreel.letta.interface import StreamingServerInterface
from streamreel.playback.replay import ReturningTools, default_parser, replay


def kind(api: str) -> StreamKind:
    return StreamKind("provider", api, "sse")


def returns(messages: list[AgentMessage]) -> list[ToolReturnMessage]:
    return [m for m in messages if isinstance(m, ToolReturnMessage)]


# -- extraction, one API at a time -----------------------------------------------------------


def test_chat_completions_results_are_the_tool_messages_after_the_last_assistant_turn() -> None:
    body = {
        "messages": [
            USER,
            SEARCHED,
            returned(SEARCH_ID, "old"),
            call("call_2", "f", {}),
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "new"}],
            },
        ]
    }
    found = tool_results(kind("chat-completions"), json_request(body))
    assert found == [
        ToolResult(SEARCH_ID, None, "old", latest=False),
        ToolResult("call_2", None, "new", latest=True),
    ]


def test_anthropic_tool_result_blocks_keep_their_error_mark() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": "boom",
                        "is_error": True,
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "ok"}],
                    },
                    {"type": "text", "text": "go on"},
                ],
            },
        ]
    }
    found = tool_results(kind("messages"), json_request(body))
    assert found == [ToolResult("toolu_1", None, "boom", True), ToolResult("toolu_2", None, "ok")]


def test_responses_function_call_outputs_are_read_by_call_id() -> None:
    body = {
        "input": [
            {"role": "user", "content": "multiply"},
            {"type": "function_call", "call_id": "call_m", "name": "multiply", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_m", "output": "2869461"},
        ]
    }
    assert tool_results(kind("responses"), json_request(body)) == [
        ToolResult("call_m", None, "2869461")
    ]


def test_gemini_function_responses_unwrap_output_and_mark_errors() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {}}}]},
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "a", "response": {"output": "15"}}},
                    {"function_response": {"name": "b", "id": "x", "response": {"error": "no"}}},
                    {"functionResponse": {"name": "c", "response": {"temp": 21}}},
                ],
            },
        ]
    }
    assert tool_results(kind("generate-content"), json_request(body)) == [
        ToolResult(None, "a", "15"),
        ToolResult("x", "b", "no", True),
        ToolResult(None, "c", '{"temp": 21}'),
    ]


def test_ollama_tool_messages_carry_their_name_when_sent() -> None:
    body = {
        "messages": [
            USER,
            {"role": "assistant", "content": ""},
            {"role": "tool", "tool_name": "f", "content": "1"},
        ]
    }
    assert tool_results(kind("ollama-chat"), json_request(body)) == [ToolResult(None, "f", "1")]


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"messages": "x"}', b'{"messages": [1, {"role": "tool"}]}'],
)
def test_a_request_of_another_shape_has_no_results_or_an_empty_one(body: bytes) -> None:
    found = tool_results(kind("chat-completions"), RecordedRequest("POST", "u", {}, body))
    assert all(r.call_id is None and r.content == "" for r in found)
    assert tool_results(kind("completions"), json_request({"messages": [returned("c", "x")]})) == []


# -- replay ----------------------------------------------------------------------------------


def test_each_return_is_shown_once_before_the_step_after_the_call() -> None:
    result = replay(cassette(*three_steps("8 to 18h")), settings=InterfaceSettings())
    first, second, third = (step.messages for step in result.interactions)
    assert returns(first) == []
    shown = returns(second)
    assert [(m.tool_call_id, m.tool_return, m.status) for m in shown] == [
        (SEARCH_ID, "8 to 18h", "success")
    ]
    assert second[0] is shown[0], "the return comes before the step's own messages"
    assert shown[0].date == getattr(second[-1], "date", None)
    assert shown[0].id != result.interactions[1].message_id and shown[0].id.startswith("message-")
    # The third request repeats the search's result: only send_message's return is new.
    assert [m.tool_call_id for m in returns(third)] == [SEND_ID]


def test_the_return_of_a_send_message_shown_as_text_is_suppressed() -> None:
    result = replay(cassette(*three_steps("8 to 18h")))  # Letta's server settings
    assert [m.tool_call_id for m in returns(result.messages)] == [SEARCH_ID]


def test_replays_give_a_return_the_same_id_every_time(tmp_path: Path) -> None:
    path = write(tmp_path / "loop.yaml", *three_steps("x"))
    ids = [
        [m.id for m in returns(replay(path, settings=InterfaceSettings()).messages)] for _ in "ab"
    ]
    assert ids[0] == ids[1] and len(set(ids[0])) == 2


@pytest.mark.parametrize(
    ("content", "text", "status"),
    [
        ('{"status": "OK", "message": "8 to 18h", "time": "now"}', "8 to 18h", "success"),
        (
            '{"status": "Failed", "message": "Error: timeout", "time": "now"}',
            "Error: timeout",
            "error",
        ),
        ('{"status": "pending"}', '{"status": "pending"}', "success"),
        ("Success: found it", "Success: found it", "success"),
    ],
)
def test_the_status_follows_letta_s_record_else_success(
    content: str, text: str, status: str
) -> None:
    result = replay(cassette(*three_steps(content)[:2]))
    assert [(m.tool_return, m.status) for m in returns(result.messages)] == [(text, status)]


def test_a_provider_error_mark_makes_an_error_return() -> None:
    from streamreel.core.providers.tool_results import ToolResult as Result
    from streamreel.playback.replay import _function_message

    assert _function_message(Result("c", None, "boom", is_error=True)) == "Error: boom"
    assert _function_message(Result("c", None, "fine")) == "Success: fine"


def test_a_result_for_a_call_no_replayed_step_made_is_not_shown() -> None:
    steps = three_steps("x")
    assert (
        returns(replay(cassette(*steps), interactions=[1], settings=InterfaceSettings()).messages)
        == []
    )
    orphan = asking(send_message(), [USER, returned("call_elsewhere", "x")])
    assert returns(replay(cassette(steps[0], orphan), settings=InterfaceSettings()).messages) == []


class WithoutReturns:
    """A parser with only the streaming methods: replay must not look for function_message."""

    def __init__(self, settings: InterfaceSettings) -> None:
        self._inner = StreamingServerInterface(use_assistant_message=settings.use_assistant_message)

    def stream_start(self) -> None:
        self._inner.stream_start()

    def stream_end(self) -> None:
        self._inner.stream_end()

    def step_complete(self) -> None:
        self._inner.step_complete()

    def step_yield(self) -> None:
        self._inner.step_yield()

    def process_chunk(self, chunk: Any, message_id: str, message_date: datetime, *args: Any) -> Any:
        return self._inner.process_chunk(chunk, message_id, message_date, *args)

    def get_generator(self) -> Any:
        return self._inner.get_generator()

    def drain(self) -> list[AgentMessage]:
        return self._inner.drain()


def test_a_parser_without_function_message_gets_the_steps_only() -> None:
    assert not isinstance(WithoutReturns(InterfaceSettings()), ReturningTools)
    assert isinstance(default_parser(InterfaceSettings()), ReturningTools)
    replayed = replay(
        cassette(*three_steps("x")), parser=WithoutReturns, settings=InterfaceSettings()
    )
    assert returns(replayed.messages) == []
    assert len(replayed.interactions) == 3


def test_a_tool_call_split_over_fragments_is_matched_by_its_id() -> None:
    # Only the first fragment of a call carries the id; later ones name it by index.
    step = interaction(
        [
            {
                "id": "c",
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_a",
                                    "function": {"name": "look", "arguments": ""},
                                }
                            ]
                        },
                    }
                ],
            },
            {
                "id": "c",
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
                    }
                ],
            },
        ]
    )
    follow = asking(send_message(), [USER, call("call_a", "look", {}), returned("call_a", "seen")])
    replayed = replay(cassette(asking(step, [USER]), follow), settings=InterfaceSettings())
    assert [m.tool_return for m in returns(replayed.interactions[1].messages)] == ["seen"]
    assert any(isinstance(m, ToolCallMessage) for m in replayed.interactions[0].messages)


# -- recorded tool loops ---------------------------------------------------------------------

CORPUS_LOOPS = [
    # (file, step, [(call id, text)]): the returns the client sent, as its SDK sent them.
    (
        "anthropic/llm-anthropic__test_anthropic__test_tools.yaml",
        1,
        [
            ("toolu_01LtHJmixrs9NcWQkK8hu8hj", "Charles"),
            ("toolu_01N8a4jWyf116qKTMqKKmjyt", "Sammy"),
        ],
    ),
    (
        "openai/pydantic-ai__test_temporal__test_complex_agent_run.yaml",
        1,
        [
            ("call_q2UyBRP7eXNTzAoR8lEhjc9Z", "Mexico"),
            ("call_b51ijcpFkDiTQG1bQzsrmtW5", "Pydantic AI"),
        ],
    ),
    (
        "openai/llm__test_openai_responses__test_responses_tool_use_streaming.yaml",
        1,
        [("call_sVidsfFJ6zlzRpelrPkTPlpd", "2869461")],
    ),
    # Gemini sends no ids: the return is matched to the call by its name.
    (
        "gemini/llm-gemini__test_gemini__test_tools_with_gemini_3_thought_signatures.yaml",
        1,
        [(None, "15")],
    ),
]


@pytest.mark.parametrize(
    ("name", "step", "expected"),
    CORPUS_LOOPS,
    ids=[c[0].split("/")[0] + "-" + str(i) for i, c in enumerate(CORPUS_LOOPS)],
)
def test_recorded_tool_loops_show_each_return_before_the_next_step(
    corpus_dir: Path, name: str, step: int, expected: list[tuple[str | None, str]]
) -> None:
    result = replay(corpus_dir / name)
    made = [
        m.tool_call.tool_call_id
        for m in result.interactions[step - 1].messages
        if isinstance(m, ToolCallMessage) and m.tool_call.tool_call_id
    ]
    shown = returns(result.interactions[step].messages)
    assert [(m.tool_return, m.status) for m in shown] == [(text, "success") for _, text in expected]
    assert [m.tool_call_id for m in shown] == [i or made[n] for n, (i, _) in enumerate(expected)]
    repeated = [m for later in result.interactions[step + 1 :] for m in returns(later.messages)]
    assert not {m.tool_call_id for m in repeated} & {m.tool_call_id for m in shown}


class RefusingReturns(StreamingServerInterface):
    """Shows tool returns by raising, as a parser that cannot show one might."""

    def __init__(self, settings: InterfaceSettings) -> None:
        super().__init__(use_assistant_message=settings.use_assistant_message)

    def function_message(
        self, msg: str, msg_obj: Any = None, chunk_index: int | None = None
    ) -> None:
        raise ParserError("cannot show a tool return: expected none, got one; do not send it")


def test_a_parser_that_fails_on_a_return_keeps_the_step_and_says_so() -> None:
    replayed = replay(cassette(*three_steps("x")[:2]), parser=RefusingReturns)
    second = replayed.interactions[1]
    assert [e.kind for e in second.errors] == ["parser"]
    assert "cannot show a tool return" in second.errors[0].message
    assert any(m.message_type == "assistant_message" for m in second.messages)


def test_bedrock_converse_tool_results_read_text_and_json_with_their_status() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"text": "go"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f"}}]},
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": "t1", "content": [{"json": {"temp": 21}}]}},
                    {
                        "toolResult": {
                            "toolUseId": "t2",
                            "content": [{"text": "no such city"}],
                            "status": "error",
                        }
                    },
                ],
            },
        ]
    }
    for api in ("converse-stream", "converse"):
        assert tool_results(kind(api), json_request(body)) == [
            ToolResult("t1", None, '{"temp": 21}'),
            ToolResult("t2", None, "no such city", is_error=True),
        ]


def test_bedrock_invoke_with_claude_reads_anthropic_s_blocks() -> None:
    block = {"type": "tool_result", "tool_use_id": "toolu_9", "content": "4"}
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "messages": [{"role": "user", "content": [block]}],
    }
    assert tool_results(kind("invoke-stream"), json_request(body)) == [
        ToolResult("toolu_9", None, "4")
    ]


def test_cohere_tool_messages_and_assistants_tool_outputs() -> None:
    chat = {
        "messages": [
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]}
        ]
    }
    assert tool_results(kind("cohere-chat"), json_request(chat)) == [ToolResult("c1", None, "ok")]
    outputs = {"tool_outputs": [{"tool_call_id": "call_r", "output": "42"}], "stream": True}
    assert tool_results(kind("assistants"), json_request(outputs)) == [
        ToolResult("call_r", None, "42")
    ]
