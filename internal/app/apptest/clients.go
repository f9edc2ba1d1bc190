package apptest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/oauthclient"
)

// ClientCredentialsStatus is the status of a client_credentials grant
// (scope users:read) at base's /api/v1/token for the client id with
// secret, sent as HTTP Basic: 200 while the secret works, 401 once it is
// rotated away or the client deleted.
func ClientCredentialsStatus(t testing.TB, base, id, secret string) int {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {oauthclient.ScopeUsersRead}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}
