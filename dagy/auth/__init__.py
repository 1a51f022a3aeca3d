"""Identity and permission machinery: the RBAC matrix, password and token hashing, JWT checks."""
