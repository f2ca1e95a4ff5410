"""Shared writer for nwreg's reference vector files (used by the scripts in
tests/reference/; not a test itself).

File format, read by the C tests:
  * plain text, one record per line;
  * lines starting with '#' are comments;
  * every other line is   NAME COUNT v1 v2 ... vCOUNT
    with each value written by repr(float) (shortest string that round-trips
    a double exactly; 'nan' / 'inf' / '-inf' for non-finite values), so
    strtod() recovers the identical double;
  * a matrix is flattened row-major and its shape is a companion vector
    NAME_shape (e.g. `fixed_attention_f64_shape 2 50 50`).
"""
import math
import platform
import sys


def fmt(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


class VectorFile:
    def __init__(self, path, script, regen_cmd, versions):
        self.path = path
        self.lines = []
        self.names = set()
        self.comment("produced by %s" % script)
        self.comment("python %s; %s" % (platform.python_version(),
                     "; ".join("%s %s" % kv for kv in versions)))
        self.comment("regenerate with: %s" % regen_cmd)
        self.comment("format: NAME COUNT v1 ... vCOUNT (values: repr(float), full double precision); "
                     "matrices row-major with a NAME_shape vector")

    def comment(self, text):
        for line in str(text).splitlines() or [""]:
            self.lines.append("# " + line if line else "#")

    def vec(self, name, values):
        if name in self.names:
            raise ValueError("duplicate vector name " + name)
        if any(c.isspace() for c in name) or name.startswith("#"):
            raise ValueError("bad vector name " + repr(name))
        self.names.add(name)
        vals = [fmt(v) for v in _flat(values)]
        self.lines.append(" ".join([name, str(len(vals))] + vals))

    def mat(self, name, array):
        import numpy as np
        a = np.asarray(array, dtype=np.float64)
        self.vec(name, a.reshape(-1))
        self.lines.append(" ".join([name + "_shape", str(a.ndim)] + [str(s) for s in a.shape]))
        self.names.add(name + "_shape")

    def write(self):
        text = "\n".join(self.lines) + "\n"
        with open(self.path, "w") as f:
            f.write(text)
        size = len(text.encode())
        if size >= 200 * 1024:
            raise RuntimeError("%s is %d bytes (limit 200 KB)" % (self.path, size))
        print("wrote %s (%d vectors, %d bytes)" % (self.path, len(self.names), size), file=sys.stderr)


def _flat(values):
    import numpy as np
    if hasattr(values, "detach"):          # a torch tensor
        values = values.detach().cpu().double().numpy()
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
