"""The IMR process: intake, eligibility, deadlines, reviewer assignment, decisions, letters, audit."""
