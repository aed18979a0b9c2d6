package cost

import (
	"math"
	"strconv"
	"strings"
)

// num formats a quantity for a Basis: whole numbers with thousands
// separators ("1,000,000"), others to four significant digits without an
// exponent ("0.4603"), so that a reader can redo the arithmetic.
func num(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return group(strconv.FormatInt(int64(x), 10))
	}
	return significant(x, 4)
}

// money formats a unit price to six significant digits: enough to show
// $0.0000166667 as AWS writes it, and to hide float noise after a region
// multiplier.
func money(x float64) string {
	if x == 0 {
		return "0"
	}
	return significant(x, 6)
}

func significant(x float64, digits int) string {
	if x == 0 {
		return "0"
	}
	prec := max(digits-1-int(math.Floor(math.Log10(math.Abs(x)))), 0)
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// group puts thousands separators into a decimal integer.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + b.String()
}

// cents rounds a monthly figure up to whole cents. Up, because the figure
// is checked against a cost ceiling, where erring high is the safe side,
// and because a usage-priced resource must not show as $0.00 just for being
// cheap. The small tolerance keeps float noise (3.1000000000000005) from
// adding a cent.
func cents(usd float64) int64 {
	c := math.Ceil(usd*100 - 1e-6)
	if c <= 0 {
		return 0
	}
	return int64(c)
}
