"""Which Discord webhook URLs a user may store, and how they are shown back (masked).

A webhook URL is a credential (whoever holds it can post to the channel), so the API never returns it whole and
logs never carry it. Only Discord's own hosts are accepted, which also keeps the consumer from being pointed at
arbitrary addresses; the local stack's sink on 127.0.0.1 is accepted only when TTAI_ENVIRONMENT is ``local``.
Light on imports: the api function loads it for every preferences read.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ttai.models.text import check_url

DISCORD_HOSTS = frozenset({"discord.com", "discordapp.com"})
LOOPBACK_HOST = "127.0.0.1"
WEBHOOK_URL_MAX_LENGTH = 512
MASK = "********"
# /api/webhooks/<snowflake id>/<token>: ids are 17-20 digits, tokens URL-safe base64 (68 characters today).
_PATH = re.compile(r"/api/webhooks/(?P<id>[0-9]{17,20})/(?P<token>[A-Za-z0-9_-]{1,128})")


def parse_webhook_url(url: str, *, allow_loopback: bool) -> tuple[str, str]:
    """The (origin, webhook id) of a valid webhook URL; ValueError (naming no part of the token) otherwise.

    Valid: ``https://discord.com/api/webhooks/<id>/<token>`` (or discordapp.com) with nothing after the token;
    with ``allow_loopback``, also ``http://127.0.0.1:<port>/api/webhooks/<id>/<token>`` (the local sink). The
    string itself is checked first: ``urlsplit`` drops tabs and line breaks and strips the ends, so without that a
    URL that HTTP clients refuse would pass here. Errors chain no cause: urllib's messages can quote the URL.
    """
    if len(url) > WEBHOOK_URL_MAX_LENGTH:
        raise ValueError(f"a Discord webhook URL is at most {WEBHOOK_URL_MAX_LENGTH} characters")
    try:
        check_url(url)
    except ValueError:
        raise ValueError("a Discord webhook URL is printable ASCII: no spaces, tabs or other controls") from None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("a Discord webhook URL has no query, fragment or credentials")
    if parts.scheme == "https" and parts.hostname in DISCORD_HOSTS and port is None:
        origin = f"https://{parts.hostname}"
    elif allow_loopback and parts.scheme == "http" and parts.hostname == LOOPBACK_HOST and port is not None:
        origin = f"http://{LOOPBACK_HOST}:{port}"
    else:
        hosts = " or ".join(f"https://{h}" for h in sorted(DISCORD_HOSTS))
        raise ValueError(f"a Discord webhook URL starts with {hosts}/api/webhooks/")
    match = _PATH.fullmatch(parts.path)
    if match is None:
        raise ValueError("a Discord webhook URL has the path /api/webhooks/<id>/<token>")
    return origin, match["id"]


def mask_webhook_url(url: str) -> str:
    """The URL with its token replaced by ``********``: enough to recognise the webhook, not to post to it."""
    parts = urlsplit(url)
    match = _PATH.fullmatch(parts.path)
    webhook_id = match["id"] if match else "?"
    return f"{parts.scheme}://{parts.netloc}/api/webhooks/{webhook_id}/{MASK}"


def is_masked(url: str) -> bool:
    """Whether ``url`` is the masked form the API shows (a client sending back what it read)."""
    return url.endswith(f"/{MASK}")
