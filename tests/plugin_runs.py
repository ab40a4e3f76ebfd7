"""Options for the pytest runs the plugin's tests start with pytester.

Other plugins installed beside streamreel cost a second per run to set up and none is needed;
syrupy is switched off too, since an in-process run would take over its module-global session.
"""

from __future__ import annotations

OTHER_PLUGINS = ("nbval", "benchmark", "asyncio", "anyio", "hypothesispytest", "timeout")
NO_SYRUPY = (
    "-p",
    "no:syrupy",
    *(arg for name in OTHER_PLUGINS for arg in ("-p", f"no:{name}")),
    *("-p", "no:cacheprovider"),
)
