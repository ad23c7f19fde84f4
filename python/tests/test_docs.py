"""docs/python.md's complete example runs (on the built-in data, as the UCI
sentences need `make data`), and the model it saves is one the CLI reads."""
import os
import re
import subprocess
import sys

from conftest import SOURCE, recur_cli


def test_the_complete_example_runs(tmp_path):
    doc = open(os.path.join(SOURCE, "docs", "python.md"), encoding="utf-8").read()
    code = re.search(r"<!-- python-example -->\n```python\n(.*?)\n```", doc, re.S).group(1)
    (tmp_path / "sentiment.py").write_text(code, encoding="utf-8")
    r = subprocess.run([sys.executable, "sentiment.py", os.path.join(SOURCE, "data", "seed_train.tsv")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "5-fold accuracy" in r.stdout and "P(pos) so far" in r.stdout
    assert "wrote hidden_states.png" in r.stdout or "no matplotlib" in r.stdout
    out = recur_cli("predict", "--model", str(tmp_path / "sentiment.safetensors"), "i am happy")
    assert out.split("\t")[0] in ("pos", "neg")
