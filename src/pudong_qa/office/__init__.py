"""Serving an office: the FastAPI server (page, JSON API, Dify, sign-in), users, keys, roles,
the audit log, knowledge bases and MCP; thin doors over ``service.QAService``."""
