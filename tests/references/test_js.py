"""The ES module scanner: import/export statements, import(), new URL(..., import.meta.url), source maps.

Specifiers that merely appear in comments, strings, template literals or regular expressions are never
references, and telling a regex from a division is what keeps the lexer in step.
"""

from __future__ import annotations

import pytest

from assetpipe.asset import Kind
from assetpipe.references import find
from assetpipe.references.js import find_js_references


def found(text: str) -> list[tuple[str, str, Kind]]:
    """(decoded url, text of the recorded span, kind) for each reference, in order."""
    return [(r.url, text[r.start : r.end], r.kind) for r in find_js_references(text)]


def urls(text: str) -> list[str]:
    return [r.url for r in find_js_references(text)]


# -- the statement shapes ---------------------------------------------------------------------------------


def test_default_import_from() -> None:
    assert found('import x from "./a.js";') == [("./a.js", "./a.js", Kind.MODULE)]


def test_side_effect_import() -> None:
    assert found("import './a.js';") == [("./a.js", "./a.js", Kind.MODULE)]


def test_export_star_from() -> None:
    assert found('export * from "./a.js";') == [("./a.js", "./a.js", Kind.MODULE)]


def test_export_star_as_namespace_from() -> None:
    assert urls('export * as ns from "./a.js";') == ["./a.js"]


def test_export_named_from() -> None:
    assert found('export { x, y as z, default } from "./a.js";') == [("./a.js", "./a.js", Kind.MODULE)]


def test_named_namespace_and_mixed_imports() -> None:
    text = (
        'import { a, b as c } from "./a.js";\n'
        'import * as ns from "./b.js";\n'
        'import d, { e } from "./c.js";\n'
        'import f, * as g from "./d.js";\n'
        'import {} from "./e.js";\n'
    )
    assert urls(text) == ["./a.js", "./b.js", "./c.js", "./d.js", "./e.js"]


def test_import_binding_named_from_is_not_confused_with_the_keyword() -> None:
    assert urls('import from from "./a.js"; import { from } from "./b.js";') == ["./a.js", "./b.js"]


def test_import_with_attributes_keeps_the_specifier() -> None:
    assert urls('import data from "./data.json" with { type: "json" };') == ["./data.json"]


def test_dynamic_import_with_a_string_literal() -> None:
    assert found('const m = await import("./lazy.js");') == [("./lazy.js", "./lazy.js", Kind.DYNAMIC)]


def test_dynamic_import_with_options_argument() -> None:
    assert urls('import("./a.json", { with: { type: "json" } })') == ["./a.json"]


def test_dynamic_import_with_an_expression_is_left_alone() -> None:
    assert urls('import("./pages/" + name + ".js"); import(name); import(`./t/${name}.js`)') == []
    assert urls("import(`./a.js` + x); import(`./b\\x2e.js`); import(tag`./c.js`)") == []
    # A tagged template or any other token after the string: the specifier is computed at run time.
    assert urls('import("./a.js"`b`); import(`./b.js``c`); import("./c.js" 1)') == []


def test_a_template_literal_without_substitutions_is_a_fixed_specifier() -> None:
    text = "const m = await import(`./lazy.js`); const u = new URL(`./img/a.png`, import.meta.url);"
    assert found(text) == [
        ("./lazy.js", "./lazy.js", Kind.DYNAMIC),
        ("./img/a.png", "./img/a.png", Kind.URL),
    ]
    ref = find_js_references(text)[0]
    assert text[ref.start - 1 : ref.end + 1] == "`./lazy.js`"


def test_new_url_with_import_meta_url() -> None:
    text = 'const img = new URL("./img/a.png", import.meta.url);'
    assert found(text) == [("./img/a.png", "./img/a.png", Kind.URL)]


def test_new_url_without_import_meta_url_is_left_alone() -> None:
    assert (
        urls('new URL("./a.png", location.href); new URL("./b.png"); URL("./c.png", import.meta.url)') == []
    )


def test_source_map_comment() -> None:
    text = 'import "./a.js";\n//# sourceMappingURL=app.js.map\n'
    assert found(text) == [
        ("./a.js", "./a.js", Kind.MODULE),
        ("app.js.map", "app.js.map", Kind.SOURCE_MAP),
    ]


def test_only_the_last_source_map_comment_counts() -> None:
    assert urls("//# sourceMappingURL=old.map\nx()\n//# sourceMappingURL=new.map") == ["new.map"]


def test_source_map_inside_a_block_comment_or_string_is_not_one() -> None:
    assert urls('/*# sourceMappingURL=a.map */ x = "//# sourceMappingURL=b.map"') == []


# -- layout: semicolons, line breaks, minified -------------------------------------------------------------


def test_statements_without_semicolons() -> None:
    text = 'import a from "./a.js"\nimport "./b.js"\nexport * from "./c.js"\nexport { d } from "./d.js"\n'
    assert urls(text) == ["./a.js", "./b.js", "./c.js", "./d.js"]


def test_statements_across_line_breaks() -> None:
    text = (
        'import {\n  a,\n  b,\n} from\n  "./a.js"\nexport {\n  c\n}\nfrom\n"./c.js"\nimport(\n  "./d.js"\n)\n'
    )
    assert urls(text) == ["./a.js", "./c.js", "./d.js"]


def test_new_url_across_line_breaks() -> None:
    text = 'new URL(\n  "./a.png",\n  import.meta.url\n)'
    assert urls(text) == ["./a.png"]


def test_minified_statements_without_spaces() -> None:
    text = 'import a from"./a.js";import"./b.js";export*from"./c.js";export{d}from"./d.js";import("./e.js")'
    assert urls(text) == ["./a.js", "./b.js", "./c.js", "./d.js", "./e.js"]


def test_line_and_column_point_at_the_specifier() -> None:
    refs = find_js_references('\n\nimport x from "./a.js"\n  import("./b.js")')
    assert [(r.line, r.column) for r in refs] == [(3, 16), (4, 11)]


def test_escapes_in_a_specifier_are_decoded_and_the_span_keeps_the_raw_text() -> None:
    text = r'import "./a\u0062.js"; import "./\x63.js"; import "./it\'s.js"'
    assert found(text) == [
        ("./ab.js", r"./a\u0062.js", Kind.MODULE),
        ("./c.js", r"./\x63.js", Kind.MODULE),
        ("./it's.js", r"./it\'s.js", Kind.MODULE),
    ]


# -- left alone -------------------------------------------------------------------------------------------------


def test_specifiers_in_line_and_block_comments_are_left_alone() -> None:
    text = '// import "./a.js"\n/* export * from "./b.js"; import("./c.js") */\nimport "./d.js"'
    assert urls(text) == ["./d.js"]


def test_specifiers_in_strings_are_left_alone() -> None:
    text = 'const s = "import \'./a.js\'"; const t = \'export * from "./b.js"\'; import "./c.js"'
    assert urls(text) == ["./c.js"]


def test_specifiers_in_template_literals_are_left_alone() -> None:
    text = 'const t = `\nimport "./a.js"\nexport * from "./b.js"\n`; import "./c.js"'
    assert urls(text) == ["./c.js"]


def test_nested_template_substitutions_keep_the_lexer_in_step() -> None:
    text = (
        'const t = `a ${ `b ${ "}" } import "./no1.js"` } ${ {x: 1}.x } import("./no2.js")`;\n'
        'import "./yes.js";'
    )
    assert urls(text) == ["./yes.js"]


def test_a_dynamic_import_inside_a_substitution_is_code_and_is_found() -> None:
    assert urls('const t = `${ await import("./a.js") }`;') == ["./a.js"]


def test_specifier_text_inside_a_regex_literal_is_left_alone() -> None:
    text = 'const r = /import "x"/; const s = /export * from "y"/g; import "./z.js"'
    assert urls(text) == ["./z.js"]


def test_a_quote_or_slash_in_a_regex_class_does_not_derail_the_lexer() -> None:
    text = 'const r = /["\'/]/g; import "./a.js"'
    assert urls(text) == ["./a.js"]


@pytest.mark.parametrize(
    "expression",
    [
        "x = a / 2",
        "x = f(a) / 2",
        "x = arr[0] / 2",
        "x = i++ / 2",
        "x = 10 / 2",
        "x = this.n / 2",
        'x = "s".length / 2',
        "x = `t`.length / 2",
        "x = {a: 1} / 2",
        "x = f({}) + {} / 2",
        "x = [{}] && {b: {c: 1}} / 2",
        "return {} / 2",
        "x = c ? {} : {} / 2",
        "x = `${ {a: 1} / 2 }`",
    ],
)
def test_division_is_not_mistaken_for_a_regex(expression: str) -> None:
    # Read as a regex opener, the "/" would swallow '; import "./' and the import with it.
    assert urls(expression + '; import "./a.js"; z = 1 / 2') == ["./a.js"]


@pytest.mark.parametrize(
    "before",
    [
        "x = ",
        "return ",
        "if (ok) ",
        "while (f(x)) ",
        "for (;;) ",
        "x = [",
        "x = y || ",
        "x = typeof ",
        "{}\n",
        "x = cond ? ",
        "if (ok) {}\n",
        "function f() {}\n",
        "const f = () => {}\n",
        "try {} finally {}\n",
        "do {} while (x); ",
        "class A extends B {}\n",
        "if (a) { x = {b: 1} }\n",
    ],
)
def test_a_regex_after_an_operator_keyword_or_condition_is_skipped(before: str) -> None:
    # Read as a division, the regex body would be an import statement of its own.
    text = before + '/;import ".\\/no.js"/.test(s)\nimport "./a.js"'
    assert urls(text) == ["./a.js"]


def test_properties_named_import_export_or_url_are_not_statements() -> None:
    text = 'obj.import("./a.js"); obj.export * from; x?.import("./b.js"); new foo.URL("./c.png", import.meta.url)'
    assert urls(text) == []


def test_import_meta_is_not_an_import() -> None:
    assert urls("console.log(import.meta.url, import.meta.resolve)") == []


def test_an_import_keyword_after_a_division_is_not_a_statement() -> None:
    # Invalid JS either way; a static import only starts a statement.
    assert urls('x = a / import "./no.js"') == []


def test_an_object_key_named_import_or_from_is_not_a_statement() -> None:
    assert urls('const o = { import: "./a.js", from: "./b.js" };') == []


def test_bare_specifiers_are_still_found_by_the_scanner() -> None:
    # Deciding that "react" is not ours is the resolver's job, so the scanner reports every specifier.
    assert urls('import React from "react"; import "https://cdn.example/x.js"') == [
        "react",
        "https://cdn.example/x.js",
    ]


def test_unterminated_string_template_comment_and_regex_do_not_raise() -> None:
    for text in ['import "./a.js', "x = `abc ${ ", "/* never closed", "x = /unclosed", "import(", "new URL("]:
        find_js_references(text)


def test_find_dispatches_js_and_mjs() -> None:
    text = 'import "./a.js"'
    assert [r.url for r in find("js/app.js", text)] == ["./a.js"]
    assert [r.url for r in find("js/app.mjs", text)] == ["./a.js"]
    assert find("js/app.ts", text) == ()


def test_a_dangling_import_keyword_does_not_claim_the_next_statements_specifier() -> None:
    # Two references to one span would make the rewrite splice it twice.
    assert found("import \nimport x from './c.js'\n") == [("./c.js", "./c.js", Kind.MODULE)]
    assert urls('export {\nexport * from "./a.js"') == ["./a.js"]


def test_a_lone_carriage_return_ends_a_line_comment() -> None:
    assert urls('// old Mac line ending\rimport "./a.js"') == ["./a.js"]


def test_a_line_continuation_with_crlf_stays_inside_the_string() -> None:
    assert urls('const s = "a\\\r\nimport \'./no.js\'"; import "./a.js"') == ["./a.js"]


def test_a_classic_script_yields_only_its_trailing_source_map_comment() -> None:
    text = (
        'var s = "\\n//# sourceMappingURL=" + name;\n'
        "var important = 1; // no module syntax here\n"
        "//# sourceMappingURL=lib.min.js.map\n"
    )
    refs = find_js_references(text)
    assert [(r.url, r.kind.value, r.line) for r in refs] == [("lib.min.js.map", "source_map", 3)]
    assert text[refs[0].start : refs[0].end] == "lib.min.js.map"


def test_a_source_map_comment_that_is_not_last_is_ignored_in_a_classic_script() -> None:
    assert find_js_references("//# sourceMappingURL=old.map\nvar x = 1;\n") == ()


@pytest.mark.parametrize(
    "words",
    [
        'icons["file-import"] = icons["file-export"]',
        "a.import(x); b.export = 1; color = 'red !important'",
        "console.log(import.meta.env); export default 1; importScripts('w.js')",
    ],
)
def test_import_and_export_words_that_start_no_reference_leave_a_classic_script(words: str) -> None:
    # ECMA-426's two methods disagree on a comment inside a template literal: reading lines (the classic
    # path) finds it, parsing (the lexer) does not. That tells the two paths apart.
    tail = "\nlet a = `\n//# sourceMappingURL=foo.js.map\n//`;\n"
    assert urls(words + tail) == ["foo.js.map"]
    assert urls('import "./a.js"' + tail) == ["./a.js"]


@pytest.mark.parametrize(
    "statement",
    [
        'import/* c */"./a.js"',
        'x;import{a}from"./a.js"',
        "export*from'./a.js'",
        "export /* c */ {a} from './a.js'",
        "import\ta from './a.js'",
        "import(`./a.js`)",
        'new URL("./a.js", import . meta . url)',
        '// re-import\nimport "./a.js"',  # a rejected "import" must not hide the next one
        "// lazy-import\nimport('./a.js')",
        "x_import\nexport * from './a.js'",
    ],
)
def test_module_syntax_behind_comments_or_minified_still_runs_the_lexer(statement: str) -> None:
    assert urls(statement) == ["./a.js"]


# -- ECMA-426 source-map links -----------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["", 'import "./a.js";\n'])
@pytest.mark.parametrize(
    ("tail", "link"),
    [
        ("var fun; //# sourceMappingURL=a.js.map", "a.js.map"),  # code before it on its line
        ("x();\n//@ sourceMappingURL=old.js.map\n\n", "old.js.map"),
        ("x();\n/*# sourceMappingURL=b.js.map */", "b.js.map"),
        ("//# sourceMappingURL=a.map\nx();\n//# sourceMappingURL=b.map\n// done\n", "b.map"),
        ("//# sourceMappingURL=a.map\n//# sourceMappingURL=b.map\n/* c */", "b.map"),  # the last one
        ("//# sourceMappingURL=a.map\nx();\n", None),  # code after it
        ("x(); //# sourceMappingURL=a.map\n/* c */ y();", None),
        ("//# sourceMappingURL = a.map", None),  # ECMA-426's pattern: no space around "="
        ("// see //# sourceMappingURL=a.map", None),  # the comment must start with # or @
    ],
)
def test_the_source_map_link_is_the_last_comment_followed_only_by_comments(
    module: str, tail: str, link: str | None
) -> None:
    text = module + tail
    refs = [r for r in find_js_references(text) if r.kind is Kind.SOURCE_MAP]
    assert [text[r.start : r.end] for r in refs] == ([link] if link else [])


def test_a_source_map_marker_in_a_string_of_a_classic_script_is_no_link() -> None:
    assert find_js_references('var s = "//# sourceMappingURL=b.map";') == ()


# -- workers and import.meta.resolve -----------------------------------------------------------------------


def test_import_meta_resolve_with_a_fixed_specifier_is_a_reference() -> None:
    text = 'const a = import.meta.resolve("./a.js"), b = import.meta.resolve(`./b.js`, x);\n' + (
        'import.meta.resolve(name); import.meta.resolve("./c" + d); x.import.meta.resolve("./e.js")'
    )
    assert found(text) == [("./a.js", "./a.js", Kind.DYNAMIC), ("./b.js", "./b.js", Kind.DYNAMIC)]


def test_workers_made_from_new_url_are_references() -> None:
    text = (
        'new Worker(new URL("./w.js", import.meta.url), {type: "module"});\n'
        'new SharedWorker(new URL("./s.js", import.meta.url));\n'
        'navigator.serviceWorker.register(new URL("./sw.js", import.meta.url), {scope: "/"});\n'
    )
    assert urls(text) == ["./w.js", "./s.js", "./sw.js"]
    assert {kind for _, _, kind in found(text)} == {Kind.URL}


def test_a_plain_string_worker_is_recorded_as_page_relative_even_in_a_classic_script() -> None:
    text = 'var w = new Worker("w.js"), s = new SharedWorker(\'s.js\', "name");\nnew Worker(url); new MyWorker("x.js")'
    assert found(text) == [("w.js", "w.js", Kind.PAGE_RELATIVE), ("s.js", "s.js", Kind.PAGE_RELATIVE)]


@pytest.mark.parametrize(
    ("statement", "new", "written"),
    [
        ('import "./a.js"', 'a"b\\.js', 'a\\"b\\\\.js'),
        ("import './a.js'", "a'b.js", "a\\'b.js"),
        ("import(`./a.js`)", "a$b.js", "a$b.js"),  # a template with an escape is no longer fixed: none needed
        ('new URL("a.png", import.meta.url)', "a\nb.png", "a\\nb.png"),
    ],
)
def test_a_new_url_is_escaped_for_its_string_and_reads_back_as_itself(
    statement: str, new: str, written: str
) -> None:
    from assetpipe.references import escape

    [ref] = find_js_references(statement)
    out = escape("app.js", statement, ref, new)
    assert out == written
    assert urls(statement[: ref.start] + out + statement[ref.end :]) == [new]
