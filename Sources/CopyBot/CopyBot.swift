// The application layer.
