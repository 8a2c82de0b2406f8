"""Cloudflare's data into this stack, each import verified: ``kv`` (a ``wrangler kv bulk put`` file through the KV
binding), ``d1`` (a ``wrangler d1 export`` into our PostgreSQL schema: ``d1_dump`` reads it, ``d1_mapping`` says
where each table and column goes, ``d1_values`` and ``d1_target`` write it), ``r2`` (an S3-compatible bucket into
R2's bucket), ``verify`` (the report every import ends with), ``cli`` (``ttai import``, and where a new source is
added).
"""
