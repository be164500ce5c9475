"""The ngrok tunnel for `listen`: the agent on this machine, its start, health and errors (the only pyngrok user)."""
