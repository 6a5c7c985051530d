"""Simulated reviewer populations: the rigour benchmark (bench/rigour) drives a real MCX with
them, and coordinators' what-if runs apply a credential's review rules to them in memory."""
