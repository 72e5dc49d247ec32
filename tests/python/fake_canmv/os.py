# Fake os for the unix port: the built-in os plus CanMV's exitpoint (a no-op here).
import sys
_path = sys.path
sys.path = []
try:
    from os import *  # the built-in one
    import os as _builtin_os
finally:
    sys.path = _path
EXITPOINT_ENABLE = 1
def exitpoint(*args):
    pass
