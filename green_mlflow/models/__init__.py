"""Model architectures with seeded random weights, and seeded synthetic inputs."""
