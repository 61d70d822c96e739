"""Equipment register: devices that GMP records name (purification devices, centrifuges, freezers)."""
