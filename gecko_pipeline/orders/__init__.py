"""Channel orders become sales orders, exactly once: intake, validation, ledger, push, follow-ups."""
