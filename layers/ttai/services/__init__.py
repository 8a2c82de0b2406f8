"""Domain services: what routes, consumers and jobs call; each takes bindings, never reads the environment."""
