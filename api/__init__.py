"""The thin REST service over the allocator library."""
