"""Reading a sweep back: statistics, the comparison page and the offline report."""
