package policy

// CheckUpload is Check and RequiredVariables of one submission from one
// parse of its files: the API runs both on every PUT, and parsing is most
// of what either costs. required is nil when there are violations (the
// submission is refused whatever its variables), and is read with the
// nesting bound of rules, the parse Check accepted.
func CheckUpload(files map[string]string, rules Rules) (violations []Violation, required []RequiredVariable) {
	c := check(files, rules)
	if v := c.result(); len(v) > 0 {
		return v, nil
	}
	return nil, requiredVariables(c.parsed)
}
