"""TTAI's shared runtime: Cloudflare-style bindings over AWS, services, models (ships as the Lambda layer)."""
