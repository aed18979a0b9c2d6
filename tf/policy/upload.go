package policy

// CheckUpload is Check and RequiredVariables of one submission from one
// parse of its files: the API runs both on every PUT and speculative plan,
// and parsing is most of what either costs. required is read with the
// nesting bound of rules, from the files that parsed (nil for a submission
// refused unparsed, over MaxTotalBytes).
func CheckUpload(files map[string]string, rules Rules) (violations []Violation, required []RequiredVariable) {
	c := check(files, rules)
	return c.result(), requiredVariables(c.parsed)
}
