"""Deterministic demo data for the embedded engine (grows with the engine)."""


def seed_engine_demo() -> str:
    return "Embedded engine: no demo catalogue yet."
