"""Workflow contracts: inputs, results and activity payloads (import only domain)."""
