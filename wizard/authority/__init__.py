"""The authority: the interface (and its demo extension), the adapter registry (plug-ins in the
entry-point group ``qoltanba.authorities``; ADAPTERS.md), the HTTP client, the contract suite every
adapter passes (``testing``) and the mock authority."""
