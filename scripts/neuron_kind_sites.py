"""Every place a neuron-kind string ('stm', 'lif', 'li') is compared, listed or picked in the Python files under a folder
(read from the AST: docstrings and comments do not count). Issue 21's measure of how many files a new neuron kind
touches. Usage: ``python scripts/neuron_kind_sites.py neurocv``. A heuristic: a few hits are other strings that happen
to be spelled the same (a report key "stm", the STM module kind "stm").
"""
import ast, sys, pathlib, collections
KINDS = {"stm", "lif", "li"}
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "neurocv").resolve()
hits = collections.defaultdict(list)
def strs(n):
    if isinstance(n, ast.Constant) and isinstance(n.value, str): return {n.value}
    if isinstance(n, (ast.Tuple, ast.List, ast.Set)): return set().union(*[strs(e) for e in n.elts]) if n.elts else set()
    return set()
for f in sorted(root.rglob("*.py")):
    rel = str(f.relative_to(root.parent))
    tree = ast.parse(f.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            s = strs(node.left).union(*[strs(c) for c in node.comparators])
            src = ast.get_source_segment(f.read_text(), node)
            if s & KINDS and any(w in src for w in ("neuron", "kind", "readout", "NEURON")):
                hits[rel].append((node.lineno, src[:90]))
        elif isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) >= 2 and {"lif"} & strs(node) :
            hits[rel].append((node.lineno, "tuple " + ast.get_source_segment(f.read_text(), node)[:80]))
        elif isinstance(node, ast.Assign) and strs(node.value) & KINDS and any(
                isinstance(t, ast.Name) and t.id in ("kind",) or isinstance(t, ast.Attribute) and t.attr in ("kind", "neuron") for t in node.targets):
            hits[rel].append((node.lineno, ast.get_source_segment(f.read_text(), node)[:90]))
        elif isinstance(node, ast.IfExp) and isinstance(node.body, ast.Constant) and node.body.value in KINDS:
            hits[rel].append((node.lineno, ast.get_source_segment(f.read_text(), node)[:90]))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("get", "getattr") or (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr"):
            if any(strs(a) & KINDS for a in node.args[1:]) :
                hits[rel].append((node.lineno, ast.get_source_segment(f.read_text(), node)[:90]))
n = 0
for rel, h in sorted(hits.items()):
    for ln, s in sorted(set(h)):
        print(f"{rel}:{ln}: {s}"); n += 1
print(f"\n{n} sites in {len(hits)} files:", " ".join(sorted(hits)))
