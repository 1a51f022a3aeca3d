"""HTTP controllers: validate, call a service, shape the response as the spec shows."""
