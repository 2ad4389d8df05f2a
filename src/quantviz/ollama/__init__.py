"""The Ollama layer: typed calls through the official `ollama` client, their errors, the endpoint
address rule and the pinned transport under every request."""
