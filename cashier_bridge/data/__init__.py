"""Demo data shipped with the bridge (see make_demo_customers.py)."""
