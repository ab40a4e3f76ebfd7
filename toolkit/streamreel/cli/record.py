"""``streamreel record``: one real provider session, recorded through the official SDK."""

from __future__ import annotations

from pathlib import Path

import click

from streamreel.cli.live import LiveView
from streamreel.cli.render import render_table
from streamreel.core.errors import StreamreelError
from streamreel.core.parser import InterfaceSettings
from streamreel.playback.replay import replay
from streamreel.recording.session import record_session


@click.command("record")
@click.option(
    "--provider",
    required=True,
    type=click.Choice(
        ["openai", "anthropic", "openai-compatible", "bedrock", "cohere", "gemini", "ollama"]
    ),
    help=(
        "Which API to call; the key comes from OPENAI_API_KEY, ANTHROPIC_API_KEY, CO_API_KEY or"
        " GEMINI_API_KEY, Bedrock's credentials from boto3's chain. Bedrock, Cohere, Gemini and"
        " Ollama need their SDK installed (boto3, cohere, google-genai, ollama)."
    ),
)
@click.option(
    "--base-url",
    help="The server's base URL (required for openai-compatible; also Ollama's host).",
)
@click.option("--model", required=True, help="The model to call.")
@click.option("--prompt", required=True, help="The user message to send.")
@click.option(
    "--tools",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON file of tool definitions to offer the model.",
)
@click.option("--stream/--no-stream", default=True, show_default=True, help="Stream the reply.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The cassette to write (other interactions in it are kept).",
)
def record_command(
    provider: str,
    base_url: str | None,
    model: str,
    prompt: str,
    tools: Path | None,
    stream: bool,
    output: Path,
) -> None:
    """Record one session with a provider into a cassette, showing its messages as they stream.

    Each chunk is shown as the streaming interface turns it into agent messages (reasoning, tool
    calls, assistant text) the moment it arrives; the whole messages follow when the session
    ends. Secrets (keys, authorization headers, cookies, organisation ids) are scrubbed from the
    cassette, which is written atomically when the session ends. The output path is checked as
    writable before the provider is called. When the provider fails (an HTTP error, a stream cut,
    an error event), the failed session is still saved, its error is printed on one line, and
    the exit status is 1.
    """
    live = LiveView(
        lambda text: click.echo(text, nl=False), InterfaceSettings(use_assistant_message=True)
    )
    try:
        result = record_session(
            provider,  # type: ignore[arg-type]
            model=model,
            prompt=prompt,
            output=output,
            base_url=base_url,
            tools=tools,
            stream=stream,
            on_chunk=live,
        )
    except StreamreelError as exc:
        # End the streamed line first, so the error is not glued onto the model's text.
        live.close()
        raise click.ClickException(str(exc)) from None
    live.close()
    click.secho(f"wrote {output} ({result.interactions} interactions)", bold=True, err=True)
    # What the streaming interface makes of what was just recorded.
    replayed = replay(output)
    last = replayed.interactions[-1] if replayed.interactions else None
    if last is not None:
        click.echo(render_table(last.merged))
