"""Rewrites a CUDA source into C++ for the CPU emulation (cuda_emu.h), changing only the two
constructs that are not C++:

  kernel<T>(...)<<<grid, block, shared, stream>>>(args)
      -> ::cnf_emu::launch(grid, block, shared, stream, [&](auto&&... a) { kernel<T>(a...); }, args)
  __shared__ T name[N];
      -> CNF_SHARED(name, T[N]);

The lambda keeps CUDA's deduction of trailing template arguments from the launch arguments. Every
line stays on its line (removed line breaks are re-emitted after the rewritten text), and a #line
directive points diagnostics at the original file, so error messages and the emulation's call
sites name the real source lines.

usage: cu2cpp.py INPUT.cu OUTPUT.cpp
"""

import re
import sys

SHARED = re.compile(r"__shared__\s+([^;{}()]+?)\s+(\w+)\s*((?:\[[^\]]*\]\s*)*);")
IDENT_CHARS = re.compile(r"[\w:]")


class RewriteError(ValueError):
    pass


def _match_back(text, close, open_, pos):
    """Index of the bracket `open_` that matches the `close` at text[pos], scanning backwards."""
    depth = 0
    for i in range(pos, -1, -1):
        if text[i] == close:
            depth += 1
        elif text[i] == open_:
            depth -= 1
            if depth == 0:
                return i
    raise RewriteError(f"unbalanced {close!r} before offset {pos}")


def _match_forward(text, pos):
    """Index just past the ')' that closes the '(' at text[pos]."""
    depth = 0
    for i in range(pos, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    raise RewriteError(f"unbalanced '(' at offset {pos}")


def _kernel_start(text, end):
    """Start of the kernel expression (a qualified name with template arguments) ending at end."""
    i = end - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    if text[i] == ">":
        i = _match_back(text, ">", "<", i) - 1
        while i >= 0 and text[i].isspace():
            i -= 1
    while i >= 0 and IDENT_CHARS.match(text[i]):
        i -= 1
    start = i + 1
    if start >= end or not re.match(r"[\w:]", text[start]):
        raise RewriteError(f"no kernel name before the launch at offset {end}")
    return start


def _launch_config(config):
    """The four launch parameters (grid, block, shared bytes, stream), CUDA's defaults filled in."""
    parts, depth, current = [], 0, []
    for ch in config:
        depth += ch in "([{<"
        depth -= ch in ")]}>"
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    parts = [" ".join(p.split()) for p in parts]
    if not 2 <= len(parts) <= 4:
        raise RewriteError(f"launch configuration {config!r} has {len(parts)} parameters")
    return ", ".join(parts + ["0", "nullptr"][len(parts) - 2:])


def _newlines(*parts):
    return "\n" * sum(p.count("\n") for p in parts)


def rewrite_launches(text):
    out, pos = [], 0
    while (open_at := text.find("<<<", pos)) != -1:
        close_at = text.find(">>>", open_at)
        if close_at == -1:
            raise RewriteError(f"'<<<' without '>>>' at offset {open_at}")
        start = _kernel_start(text, open_at)
        kernel = text[start:open_at]
        config = text[open_at + 3:close_at]
        paren = close_at + 3
        while paren < len(text) and text[paren].isspace():
            paren += 1
        if paren >= len(text) or text[paren] != "(":
            raise RewriteError(f"launch at offset {open_at} has no argument list")
        args_end = _match_forward(text, paren)
        args = text[paren + 1:args_end - 1]
        gap = text[close_at + 3:paren]
        name = " ".join(kernel.split())
        out.append(text[pos:start])
        out.append(f"::cnf_emu::launch({_launch_config(config)}, "
                   f"[&](auto&&... cnf_a) {{ {name}(cnf_a...); }}")
        out.append(_newlines(kernel, config, gap))
        out.append(f", {args})" if args.strip() else ")")
        pos = args_end
    out.append(text[pos:])
    return "".join(out)


def rewrite_shared(text):
    def replace(m):
        type_, name, dims = m.group(1), m.group(2), m.group(3)
        whole = m.group(0)
        flat_dims = "".join(dims.split())
        return f"CNF_SHARED({name}, {' '.join(type_.split())}{flat_dims});" + _newlines(whole)

    return SHARED.sub(replace, text)


def rewrite(text, path):
    return f'#line 1 "{path}"\n' + rewrite_launches(rewrite_shared(text))


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    source, target = argv[1], argv[2]
    with open(source, encoding="utf-8") as f:
        text = f.read()
    try:
        result = rewrite(text, source)
    except RewriteError as e:
        sys.exit(f"{source}: {e}")
    with open(target, "w", encoding="utf-8") as f:
        f.write(result)


if __name__ == "__main__":
    main(sys.argv)
