print("wu-orchestrator: not built yet")
