// Package usertest is the conformance suite every implementation of the
// store ports of package user must pass, so that all stores behave alike,
// plus factories of valid users, sessions, tokens and audit events, Memory,
// an in-memory database whose stores pass the suite, and Mailbox, a
// recording Notifier, for tests.
package usertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// NewUser returns a valid user, not yet stored, numbered n: a fresh UUIDv7,
// email user<n>@example.com, username user<n>, a fake password hash and the
// full name "User <n>", role user.
func NewUser(n int) user.User {
	return user.User{
		ID:           uuid.Must(uuid.NewV7()),
		Email:        fmt.Sprintf("user%d@example.com", n),
		Username:     fmt.Sprintf("user%d", n),
		PasswordHash: fmt.Sprintf("fake-hash-%d", n),
		FullName:     fmt.Sprintf("User %d", n),
		Role:         user.RoleUser,
	}
}

// newStores opens the stores of a fresh, empty, migrated database.
type newStores func(t *testing.T) user.Stores

// suiteTest is one test of the suite.
type suiteTest struct {
	name string
	test func(*testing.T, newStores)
}

// Run checks that the stores open returns follow every rule of the store
// ports, in six groups of subtests, one per port: Users, Sessions,
// AccountTokens, EmailChanges, Audit (with Retention) and Tx (the Transactor, tx.go). Each test uses the
// port it is about, and Users to create the users the others belong to. open must return the stores of
// a fresh, empty, migrated database each time it is called, and release it
// in t.Cleanup. Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) user.Stores) {
	for _, group := range []struct {
		name  string
		tests []suiteTest
	}{
		{"Users", usersTests},
		{"Sessions", sessionsTests},
		{"AccountTokens", accountTokensTests},
		{"EmailChanges", emailChangesTests},
		{"Audit", auditTests},
		{"Tx", txTests},
		{"Factors", factorsTests},
	} {
		t.Run(group.name, func(t *testing.T) {
			for _, tc := range group.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.test(t, open)
				})
			}
		})
	}
}

// The groups of Run, each in the file of its port.
var (
	usersTests = []suiteTest{
		{"Create", testCreate},
		{"RoundTrip", testRoundTrip},
		{"LookupIgnoresCase", testLookupIgnoresCase},
		{"NotFound", testNotFound},
		{"Duplicates", testDuplicates},
		{"Update", testUpdate},
		{"UpdateEmailTaken", testUpdateEmailTaken},
		{"Deactivate", testDeactivate},
		{"SetPassword", testSetPassword},
		{"RehashPassword", testRehashPassword},
		{"Delete", testDelete},
		{"ConcurrentSameEmail", testConcurrentSameEmail},
		{"ConcurrentSameUsername", testConcurrentSameUsername},
		{"ConcurrentDistinct", testConcurrentDistinct},
		{"RoleAndVerificationOnCreate", testRoleAndVerificationOnCreate},
		{"UpdateAdminFields", testUpdateAdminFields},
		{"EmailChangeClearsVerification", testEmailChangeClearsVerification},
		{"TrustedEmail", testTrustedEmail},
		{"ListFilters", testListFilters},
		{"ListSearch", testListSearch},
		{"ListSearchFollowsChanges", testListSearchFollowsChanges},
		{"ListSearchPaging", testListSearchPaging},
		{"ListCreatedRange", testListCreatedRange},
		{"ListPagingIsStable", testListPagingIsStable},
		{"LastAdmin", testLastAdmin},
		{"ConcurrentLastAdmin", testConcurrentLastAdmin},
	}
	sessionsTests = []suiteTest{
		{"RoundTrip", testSessionRoundTrip},
		{"Client", testSessionClient},
		{"NotFound", testSessionNotFound},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"ConcurrentRotation", testConcurrentRotation},
		{"Active", testActiveSessions},
		{"All", testAllSessions},
		{"RevokeAll", testRevokeAll},
		{"DeleteRemovesSessions", testDeleteRemovesSessions},
		{"UserSession", testUserSession},
		{"UserSessionSeesChanges", testUserSessionSeesChanges},
		{"ConcurrentUserSession", testConcurrentUserSession},
		{"AuthenticatedAt", testAuthenticatedAt},
		{"Reauthenticated", testReauthenticated},
		{"AddRefreshTokenAgain", testAddRefreshTokenAgain},
		{"ConcurrentSameSuccessor", testConcurrentSameSuccessor},
		{"ActivePaged", testActivePaged},
		{"RevokeOldest", testRevokeOldest},
	}
	accountTokensTests = []suiteTest{
		{"RoundTrip", testAccountTokenRoundTrip},
		{"UseVerifyEmail", testUseVerifyEmail},
		{"VerifyAfterEmailChange", testVerifyAfterEmailChange},
		{"UseResetPassword", testUseResetPassword},
		{"ConcurrentUse", testConcurrentTokenUse},
		{"ConcurrentResetsWithTwoTokens", testConcurrentResetsWithTwoTokens},
		{"DeleteRemovesAccountTokens", testDeleteRemovesAccountTokens},
		{"VerifyTrusts", testVerifyTrusts},
		{"TokenVersionRoundTrip", testTokenVersionRoundTrip},
		{"ResetBoundToPassword", testResetBoundToPassword},
		{"UseAll", testUseAllTokens},
		{"Pending", testPendingTokens},
	}
	factorsTests = []suiteTest{
		{"TOTPRoundTrip", testTOTPRoundTrip},
		{"ConcurrentTOTPUse", testConcurrentTOTPUse},
		{"UseReplacedTOTP", testUseReplacedTOTP},
		{"RecoveryCodes", testRecoveryCodes},
		{"MFAChallenges", testMFAChallenges},
		{"MFAChallengesUseAll", testMFAChallengesUseAll},
		{"MFAChallengesMarkFailed", testMFAChallengesMarkFailed},
		{"MFAChallengeUseInTx", testMFAChallengeUseInTx},
		{"DeleteRemovesFactors", testDeleteRemovesFactors},
		{"SessionAssurance", testSessionAssurance},
	}
	emailChangesTests = []suiteTest{
		{"RoundTrip", testEmailChangeRoundTrip},
		{"Refused", testEmailChangeRefused},
		{"ConcurrentUse", testConcurrentEmailChangeUse},
		{"UseAfter", testEmailChangeUseAfter},
		{"Undoable", testEmailChangeUndoable},
		{"DeleteRemovesEmailChanges", testDeleteRemovesEmailChanges},
		{"Held", testEmailChangeHeld},
		{"InTx", testEmailChangeInTx},
		{"Of", testEmailChangesOf},
	}
	auditTests = []suiteTest{
		{"RoundTrip", testAuditRoundTrip},
		{"Filters", testAuditFilters},
		{"KeysetStability", testAuditKeysetStability},
		{"ByTimePaging", testAuditByTimePaging},
		{"ByTimeFilters", testAuditByTimeFilters},
		{"ActorByTime", testAuditActorByTime},
		{"OutlivesUser", testAuditOutlivesUser},
		{"PruneBefore", testAuditPruneBefore},
		{"PruneInTransaction", testAuditPruneInTransaction},
		{"IDsGrowAfterPrune", testAuditIDsGrowAfterPrune},
	}
	txTests = []suiteTest{
		{"Commit", testTxCommit},
		{"RollbackOnError", testTxRollbackOnError},
		{"RollbackOnPanic", testTxRollbackOnPanic},
		{"ReadsOwnWrites", testTxReadsOwnWrites},
		{"Nested", testTxNested},
		{"NestedFailure", testTxNestedFailure},
		{"OwnTransactions", testTxOwnTransactions},
		{"Isolation", testTxIsolation},
		{"ConcurrentIncrements", testTxConcurrentIncrements},
		{"UniqueViolation", testTxUniqueViolation},
		{"BusinessErrorKeepsTx", testTxBusinessErrorKeepsTx},
		{"RefusedSessionKeepsTx", testTxRefusedSessionKeepsTx},
		{"RefusedEventKeepsTx", testTxRefusedEventKeepsTx},
		{"Recovery", testTxRecovery},
	}
)

// ignoreDBFields leaves out what the database fills in.
var ignoreDBFields = cmpopts.IgnoreFields(user.User{}, "CreatedAt", "UpdatedAt")

// create stores u or stops the test.
func create(t *testing.T, users user.Users, u user.User) user.User {
	t.Helper()
	got, err := users.Create(t.Context(), u)
	if err != nil {
		t.Fatalf("Create(%q, %q): got error %v, want nil", u.Email, u.Username, err)
	}
	return got
}

// byID reads the user id or stops the test.
func byID(t *testing.T, users user.Users, id uuid.UUID) user.User {
	t.Helper()
	got, err := users.ByID(t.Context(), id)
	if err != nil {
		t.Fatalf("ByID(%s): got error %v, want nil", id, err)
	}
	return got
}

// now is a time every store keeps exactly.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// racers is how many goroutines the concurrency tests start at once.
const racers = 20
