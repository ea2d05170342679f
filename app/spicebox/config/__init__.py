"""Connection targets and settings, validated once at the edge."""
