"""Tools around the program: the local plan command and the registration dump."""
