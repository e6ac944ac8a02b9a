"""How the tests and the web benchmark start Debian's chromium (never Playwright's own download)."""

CHROMIUM = "/usr/bin/chromium"
#: Headless as root, without the background traffic a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
