"""connlab: connection-handling architectures, built from the same parts."""
