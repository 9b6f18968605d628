"""The indicator registry: named, versioned indicators that every module registers and every
report and page iterates over."""
