"""Recording live sessions: HTTP interception, the recorder, the loopback provider emulator."""
