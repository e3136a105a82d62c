"""Security review: per-request signature detectors (this package) and, later, behavioural
detectors and findings. Detection runs on distinct normalised values, vectorised."""
