// The Polymarket layer: exchange registry, fill mapping.
