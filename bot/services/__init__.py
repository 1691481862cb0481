"""Services: each orchestrates the pure core and the adapters for one job."""
