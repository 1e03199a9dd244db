"""The Audit Manager API face: wire protocol, SigV4 and one small handler module per resource."""
