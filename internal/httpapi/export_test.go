package httpapi

// ErrorRow is a row of the error table as a client sees it: the status and
// code of the answer, and what its detail starts with (a refusal by a rate
// limit or the lockout says when to come back, a 413 names the limit).
type ErrorRow struct {
	Status       int
	Code, Detail string
}

// ErrorRows lists the error table, for the tests that reach every row over
// HTTP.
func ErrorRows() []ErrorRow {
	rows := make([]ErrorRow, len(errorTable))
	for i, r := range errorTable {
		rows[i] = ErrorRow{Status: r.status, Code: r.code, Detail: r.detail}
		if r.detail == "" {
			rows[i].Detail = r.err.Error()
		}
	}
	return rows
}
