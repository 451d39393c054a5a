print("wu-runner: not built yet")
