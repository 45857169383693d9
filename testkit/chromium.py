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

# Benchmarks that play a room's video need this beside FLAGS.
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"


async def sign_in(page, base_url: str, name: str, password: str, next_path: str) -> None:
    """Sign `page` in through the real login form and wait to land on `next_path`
    (the URL itself, not the login page's `?next=`)."""
    await page.goto(f"{base_url}/login?next={next_path}", wait_until="domcontentloaded")
    await page.fill("#username", name)
    await page.fill("#password", password)
    await page.click("#login")
    await page.wait_for_url(f"{base_url}{next_path}")
