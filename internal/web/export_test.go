package web

// RoutePatterns are the ServeMux patterns of every page route p mounts,
// for the tests that hold each of them to the pages' rules.
func RoutePatterns(p *Pages) []string {
	var out []string
	for _, rt := range p.routes() {
		out = append(out, rt.pattern)
	}
	return out
}
