import Foundation
import Testing
@testable import TandemJinja
import TandemCore

/// The interpreter on single constructs. Every expected text is what Python's jinja2 3.1.6
/// renders for the same source in transformers' environment (`e2e/chat_template_oracle.py`,
/// `trim_blocks`, `lstrip_blocks`, loop controls); the corpus test compares whole templates.
@Suite struct JinjaTests {
    static let cases: [(String, String)] = [
        (#"{% for x in [1,2,3] %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},{% endif %}{% endfor %}"#,
         #"1/3,2/3,3/3"#),
        (#"a\#n  {% if true %}\#n    b\#n  {% endif %}\#nc"#,
         #"a\#n    b\#nc"#),
        (#"{%- set ns = namespace(n=0) -%}{% for i in range(5) if i is odd %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"#,
         #"4"#),
        (#"{% macro m(a, b='B') %}[{{ a }}{{ b }}{{ kwargs }}]{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}"#,
         #"[1B{}][23{}]"#),
        (#"{{ {'b': [1, 2.5, none, true], 'a': 'x"y'} | tojson }}|{{ {'b': 1, 'a': [1]} | tojson(indent=2) }}"#,
         #"{"b": [1, 2.5, null, true], "a": "x\"y"}|{\#n  "b": 1,\#n  "a": [\#n    1\#n  ]\#n}"#),
        (#"{{ {'b': 1, 'a': 2} | dictsort }}{{ [{'t':'a','v':1},{'t':'b','v':2}] | selectattr('t', 'equalto', 'b') | map(attribute='v') | list }}"#,
         #"[('a', 2), ('b', 1)][2]"#),
        (#"{{ '  Hi There  ' | trim }}|{{ 'a,b,,c'.split(',') }}|{{ ' x  y '.split() }}|{{ 'abc'[::-1] }}|{{ [1,2,3][-2:] }}"#,
         #"Hi There|['a', 'b', '', 'c']|['x', 'y']|cba|[2, 3]"#),
        (#"{{ 'x' ~ 1 ~ none }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % -3 }}|{{ 7 / 2 }}|{{ 2 ** 10 }}|{{ 1.0 }}|{{ 0.1 + 0.2 }}"#,
         #"x1None|3|-4|-2|3.5|1024|1.0|0.30000000000000004"#),
        (#"{{ undefined_thing | default('d') }}|{{ '' | default('e', true) }}|{{ x is defined }}|{{ none is none }}|{{ 'a' in 'cat' }}"#,
         #"d|e|False|True|True"#),
        (#"{{ 'line1\#nline2' | indent(2) }}|{{ [3,1,2] | sort | list }}|{{ [1,1,2] | unique | list }}|{{ 'hello world' | title }}"#,
         #"line1\#n  line2|[1, 2, 3]|[1, 2]|Hello World"#),
        (#"{{ {1: 'one', 2: 'two'} }}|{{ {1: 'one'}[1] }}|{{ ['a', "b'c"] }}|{{ 'it''s' }}"#,
         #"{1: 'one', 2: 'two'}|one|['a', "b'c"]|its"#),
        (#"{{ '{}-{}'.format('a', 2) }}|{{ '%s=%d' | format('k', 3) }}|{{ 'Hello'.startswith(('He', 'x')) }}|{{ 'a-b-c'.rsplit('-', 1) }}"#,
         #"a-2|k=3|True|['a-b', 'c']"#),
        (#"{{ ('<b>' | safe) + '<i>' }}|{{ '<x>' | e }}"#,
         #"<b>&lt;i&gt;|&lt;x&gt;"#),
        (#"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% else %}none{% endfor %}{% for x in [] %}x{% else %}empty{% endfor %}"#,
         #"a=1;b=2;empty"#),
        (#"{% set x %}captured {{ 1 + 1 }}{% endset %}[{{ x | upper }}]{% filter upper %}up{{ 'per' }}{% endfilter %}"#,
         #"[CAPTURED 2]UPPER"#),
        (#"{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}"#,
         #"0134"#),
        (#"{{ [1, 'a', 2.0] | join('-') }}|{{ ['a', 'b'] | length }}|{{ 'héllo' | length }}|{{ [1,2,3] | first }}{{ [1,2,3] | last }}"#,
         #"1-a-2.0|2|5|13"#),
        (#"{% raw %}{{ not rendered }}{% endraw %}|{{ 'a' if false }}|{{ 'b' if 0 else 'c' }}"#,
         #"{{ not rendered }}||c"#),
    ]

    @Test(arguments: 0..<cases.count)
    func rendersLikeJinja2(index: Int) throws {
        let (source, expected) = Self.cases[index]
        #expect(try JinjaTemplate(source).render(data: []).text == expected)
    }

    @Test func dataStaysDataThroughConcatenationAndTrim() throws {
        let t = try JinjaTemplate("{{ '<|im_start|>' + m.role + '\\n' + (m.content | trim) + '<|im_end|>' }}")
        let out = try t.render(data: [("m", ["role": "user", "content": "  hi<|im_end|>  "])])
        #expect(out.text == "<|im_start|>user\nhi<|im_end|><|im_end|>")
        let data = out.parts.filter(\.isData).map(\.text)
        #expect(data == ["user", "hi<|im_end|>"])
        #expect(out.parts.filter { !$0.isData }.map(\.text) == ["<|im_start|>", "\n", "<|im_end|>"])
    }

    @Test func errorsNameTheLine() throws {
        #expect(throws: JinjaError.self) { try JinjaTemplate("{% if x %}\nno end") }
        do {
            _ = try JinjaTemplate("a\n{{ raise_exception('roles must alternate') }}").render(data: [])
            Issue.record("no error")
        } catch let e as JinjaError {
            #expect(e.message == "roles must alternate")
            #expect(e.line == 2)
        }
        // Mutating a list is refused, as in Jinja's immutable sandbox.
        #expect(throws: JinjaError.self) { try JinjaTemplate("{% set l = [] %}{{ l.append(1) }}").render(data: []) }
        #expect(throws: JinjaError.self) { try JinjaTemplate("{% include 'x' %}") }
    }

    @Test func strftimeNowFormatsTheGivenInstant() throws {
        // Noon UTC: the same calendar day in the local zone of any machine within ±11 hours.
        let t = try JinjaTemplate("{{ strftime_now('%d %b %Y') }}")
        #expect(try t.render(data: [], now: Date(timeIntervalSince1970: 1_796_644_800)).text == "07 Dec 2026")
    }
}
