"""The auth function: the public sign-in routes (it alone holds the OAuth client and encryption keys)."""
