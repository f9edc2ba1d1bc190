package postgres

// OIDCPurgeStep is one statement of OIDCGrants.PurgeExpired's batch, for
// EXPLAIN: it takes the cutoff and the rows left to the batch.
type OIDCPurgeStep struct{ Name, Query string }

// OIDCPurgeSteps are the statements of OIDCGrants.PurgeExpired's batch.
func OIDCPurgeSteps() []OIDCPurgeStep {
	steps := make([]OIDCPurgeStep, len(oidcPurgeSteps))
	for i, s := range oidcPurgeSteps {
		steps[i] = OIDCPurgeStep{s.name, s.q}
	}
	return steps
}
