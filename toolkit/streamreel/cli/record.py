"""``streamreel record``: one real provider session, recorded through the official SDK."""

from __future__ import annotations

import os
from pathlib import Path

import click

from streamreel.cli.exits import Unreadable
from streamreel.cli.live import LiveView
from streamreel.cli.render import render_table
from streamreel.core.errors import CassetteError, ConfigurationError, StreamreelError
from streamreel.core.parser import InterfaceSettings
from streamreel.core.wording import counted
from streamreel.playback.replay import replay
from streamreel.recording.session import API_KEY_VARIABLES, record_session


def _check_usage(provider: str, base_url: str | None) -> None:
    """What the command line must say before a session can start, as usage errors naming the
    options and variables to set (the library's own errors name its Python arguments)."""
    if provider == "openai-compatible" and not base_url:
        raise click.UsageError(
            "cannot record an openai-compatible session: expected --base-url, got none; pass "
            "--base-url http://localhost:8000/v1 (the server's base URL)"
        )
    variable = API_KEY_VARIABLES.get(provider)
    if variable is not None and not os.environ.get(variable, "").strip():
        raise click.UsageError(
            f"cannot record a {provider} session: expected an API key in ${variable}, got it "
            f"unset or empty; export {variable}=... and run the command again"
        )


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
    the exit status is 1. A missing key, --base-url or SDK is a usage error (status 2); a
    --tools file that cannot be read exits with status 3.
    """
    _check_usage(provider, base_url)
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
    except ConfigurationError as exc:
        live.close()
        if exc.path is not None:  # a file named by an option (--tools) that cannot be read
            raise Unreadable(str(exc)) from None
        raise click.UsageError(str(exc)) from None
    except CassetteError as exc:
        live.close()
        if exc.path is not None and Path(exc.path) == output:  # -o names what cannot be written
            raise click.UsageError(str(exc)) from None
        raise click.ClickException(str(exc)) from None
    except StreamreelError as exc:
        # End the streamed line first, so the error is not glued onto the model's text.
        live.close()
        raise click.ClickException(str(exc)) from None
    live.close()
    click.secho(
        f"wrote {output} ({counted(result.interactions, 'interaction')})", bold=True, err=True
    )
    # What the streaming interface makes of what was just recorded.
    replayed = replay(output)
    last = replayed.interactions[-1] if replayed.interactions else None
    if last is not None:
        click.echo(render_table(last.merged))
