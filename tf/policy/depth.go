package policy

import (
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The HCL parsers are recursive descent parsers without a depth limit, and
// a Go stack overflow is fatal rather than a recoverable panic: one megabyte
// of "(((((" or of "!!!!!" in a tenant file would bring the server down.
// So before a file reaches a parser, a linear, non-recursive scan estimates
// how deep the parser would recurse, and files past a generous bound are
// refused without being parsed. The precise rule (MaxNestingDepth, over the
// parsed blocks and expressions) is applied afterwards by the walker.

// maxScanDepth caps the pre-scan bound whatever MaxNestingDepth says, so a
// misconfigured limit cannot re-open the stack overflow.
const maxScanDepth = 1000

// scanLimit is the bound of the pre-scan for a given MaxNestingDepth. A
// level of the parsed tree costs at most a few brackets, quotes or
// operators of the source (a .tf.json resource is four JSON objects deep
// before its first argument), hence the factor.
func scanLimit(maxDepth int) int {
	return min(3*maxDepth+10, maxScanDepth)
}

// tokenNesting walks the tokens of native HCL (a configuration file or a
// template) and returns the line at which the estimated parser recursion
// first exceeds limit.
//
// It counts open brackets, braces, parentheses, quotes, heredocs and
// template sequences, plus the operators the parser handles by recursion
// (unary "!" and "-", the "?" of a conditional whose false branch nests,
// "*" of a splat) and template if/for directives. Operators are counted
// per bracket group and forgotten at "," and "=" and when their group
// closes, because there the expression they nest in is complete; at the
// top level a newline also ends an expression.
func tokenNesting(tokens hclsyntax.Tokens, limit int) (line int, tooDeep bool) {
	// ops[i] counts the recursing operators pending in group i; ops[0] is
	// the top level. depth is len(ops)-1 plus the sum of ops.
	ops := []int{0}
	depth := 0
	for i, tok := range tokens {
		top := len(ops) - 1
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			ops = append(ops, 0)
			depth++
			if tok.Type == hclsyntax.TokenTemplateControl {
				// A template if/for nests everything up to its end
				// directive: count it in the enclosing template.
				switch directive(tokens[i+1:]) {
				case "if", "for":
					ops[top]++
					depth++
				case "endif", "endfor":
					if ops[top] > 0 {
						ops[top]--
						depth--
					}
				}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if top > 0 {
				depth -= 1 + ops[top]
				ops = ops[:top]
			}
		case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenQuestion, hclsyntax.TokenStar:
			ops[top]++
			depth++
		case hclsyntax.TokenComma, hclsyntax.TokenEqual:
			depth -= ops[top]
			ops[top] = 0
		case hclsyntax.TokenNewline:
			if top == 0 {
				depth -= ops[0]
				ops[0] = 0
			}
		}
		if depth > limit {
			return tok.Range.Start.Line, true
		}
	}
	return 0, false
}

// directive returns the keyword that follows a "%{" (the scanner keeps a
// strip marker "~" in the "%{" token).
func directive(rest hclsyntax.Tokens) string {
	if len(rest) > 0 && rest[0].Type == hclsyntax.TokenIdent {
		return string(rest[0].Bytes)
	}
	return ""
}

// jsonNesting returns the line at which the nesting of JSON objects and
// arrays in src first exceeds limit. Brackets inside strings do not count;
// strings are HCL templates, scanned separately before they are parsed.
func jsonNesting(src string, limit int) (line int, tooDeep bool) {
	line = 1
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\n' {
			line++
		}
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > limit {
				return line, true
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return 0, false
}
