__version__ = "0.1.0"
# Kept by nbdev_export, which rewrites only the line above: the check is exported from nbs/package.ipynb
from ._course_folder import _warn_foreign_exp   # warns if another folder named exp (e.g. the course's) can shadow or join this package
