"""The authority: the client interface, its errors, the HTTP client and the mock authority."""
