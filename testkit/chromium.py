"""Flags for Debian's headless Chromium on this machine (no GPU, no network but loopback)."""

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--enable-unsafe-swiftshader",  # software WebGL for scattergl on a GPU-less machine
]
