"""The merchant dashboard and the operators' state views (to come)."""
