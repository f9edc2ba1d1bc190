package oidcop_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/user"
)

// TestAssuranceFromTheSession: the ID token's amr and acr are those of
// the page session's sign-in: the password alone gives pwd and the
// single-factor acr; the password and an authenticator app's code give
// pwd, otp and mfa and the multi-factor acr, in the refreshed ID token
// too.
func TestAssuranceFromTheSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()

		amr, acr := f.assurance(conf, f.signIn(), "")
		if !slices.Equal(amr, []string{user.AMRPassword}) || acr != user.ACRSingleFactor {
			t.Errorf("a password sign-in: amr %v acr %q, want [pwd] %q", amr, acr, user.ACRSingleFactor)
		}

		secret := f.enrolTOTP()
		f.srv.Clock.Advance(time.Minute)
		amr, acr = f.assurance(conf, f.signInWithCode(secret), "refresh")
		for _, want := range []string{user.AMRPassword, user.AMROTP, user.AMRMFA} {
			if !slices.Contains(amr, want) {
				t.Errorf("a sign-in with a TOTP code: amr %v, want %s in it", amr, want)
			}
		}
		if acr != user.ACRMultiFactor {
			t.Errorf("a sign-in with a TOTP code: acr %q, want %q", acr, user.ACRMultiFactor)
		}
	})
}

// assurance runs the code flow in b and returns the ID token's amr and
// acr; with refresh, those of the ID token a refresh gives, which must be
// the same.
func (f *fixture) assurance(conf *oauth2.Config, b *browser, refresh string) ([]string, string) {
	f.t.Helper()
	tok := f.exchange(b, conf, "s")
	amr, acr := f.idAssurance(tok)
	if refresh != "" {
		next, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			f.t.Fatalf("refresh: %v", err)
		}
		if ramr, _ := f.idAssurance(next); !slices.Equal(ramr, amr) {
			f.t.Errorf("the refreshed ID token's amr %v, want the first one's %v", ramr, amr)
		}
	}
	return amr, acr
}

func (f *fixture) idAssurance(tok *oauth2.Token) ([]string, string) {
	f.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.provider.VerifierContext(f.ctx, &oidc.Config{ClientID: webClient}).Verify(f.ctx, raw)
	if err != nil {
		f.t.Fatalf("ID token: %v", err)
	}
	var claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	return claims.AMR, claims.ACR
}

// enrolTOTP gives the fixture's user a confirmed authenticator app through
// the service and returns its secret.
func (f *fixture) enrolTOTP() string {
	f.t.Helper()
	ctx, svc := context.Background(), f.srv.App.Service()
	tok, err := svc.Login(ctx, f.username, password, "")
	if err != nil {
		f.t.Fatal(err)
	}
	u, sess, err := svc.Authenticate(ctx, tok.Token)
	if err != nil {
		f.t.Fatal(err)
	}
	c := user.Caller{User: u, Session: sess}
	key, err := svc.EnrolTOTP(ctx, c)
	if err != nil {
		f.t.Fatal(err)
	}
	code, err := pqtotp.GenerateCodeCustom(key.Secret, f.srv.Clock.Now(), pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := svc.ConfirmTOTP(ctx, c, code); err != nil {
		f.t.Fatal(err)
	}
	return key.Secret
}

// signInWithCode signs a new browser in with the password and a code of
// the authenticator app whose secret is secret.
func (f *fixture) signInWithCode(secret string) *browser {
	f.t.Helper()
	b := f.browser()
	token := f.mfaToken(b)
	code, err := pqtotp.GenerateCodeCustom(secret, f.srv.Clock.Now(), pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		f.t.Fatal(err)
	}
	if status, loc := b.form("/sign-in/mfa", url.Values{"mfa_token": {token}, "code": {code}}); status != http.StatusSeeOther {
		f.t.Fatalf("the code: %d to %q, want 303", status, loc)
	}
	return b
}

// mfaToken posts the password on the sign-in page and returns the
// mfa_token of the code form it answers with.
func (f *fixture) mfaToken(b *browser) string {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.base+"/sign-in", strings.NewReader(url.Values{"login": {f.username}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", f.base)
	res, err := b.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	body := new(strings.Builder)
	_, _ = io.Copy(body, res.Body)
	const marker = `name="mfa_token" value="`
	i := strings.Index(body.String(), marker)
	if res.StatusCode != http.StatusOK || i < 0 {
		f.t.Fatalf("sign-in with a second factor: %d, want the code form\n%s", res.StatusCode, body)
	}
	rest := body.String()[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestProviderAppliesTheMFAPolicyForAll: under USERSVC_REQUIRE_MFA_FOR=all
// the API and the account pages refuse a session opened without the
// account's second factor; the provider handed such a session a code all
// the same (amr pwd), so an application behind it got the user with the
// password alone. Now an account without a factor gets access_denied, a
// session opened without the account's factor is sent to sign in again
// (login_required with prompt=none), and one opened with it gets its code.
func TestProviderAppliesTheMFAPolicyForAll(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind, "USERSVC_REQUIRE_MFA_FOR", "all")
		conf := f.webConfig()
		verifier := oauth2.GenerateVerifier()
		b := f.signIn() // the password alone, and no factor yet
		loc, status, body := b.visit(conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)))
		if loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
			t.Fatalf("an account without a second factor: %d %v %.200s, want access_denied at the client", status, loc, body)
		}

		secret := f.enrolTOTP()
		f.srv.Clock.Advance(time.Minute)
		if loc, status, body := b.visit(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier))); loc != nil || status != http.StatusOK || !strings.Contains(body, `action="/sign-in"`) {
			t.Errorf("a session opened without the account's factor: %d %v, want the sign-in page\n%.300s", status, loc, body)
		}
		loc, _, _ = b.visit(conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")))
		if loc == nil || loc.Query().Get("error") != "login_required" {
			t.Errorf("the same with prompt=none: %v, want login_required at the client", loc)
		}

		amr, _ := f.assurance(conf, f.signInWithCode(secret), "")
		if !slices.Contains(amr, user.AMRMFA) {
			t.Errorf("a session opened with the code: amr %v, want mfa in it", amr)
		}
	})
}

// TestRefreshedIDTokenKeepsTheSignIn: the ID token of a refresh speaks of
// the original authentication (OpenID Connect Core 12.2): the same
// auth_time, amr and acr (its iat is op's, of the refresh). A refresh after a sign-in with a
// second factor gave an ID token without acr, so that a relying party
// that requires the multi-factor acr took the user for a password-only
// one, or one that reads no acr as enough, anyone.
func TestRefreshedIDTokenKeepsTheSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()
		secret := f.enrolTOTP()
		f.srv.Clock.Advance(time.Minute)
		tok := f.exchange(f.signInWithCode(secret), conf, "s")
		first := f.idAuthentication(tok)
		if first.ACR != user.ACRMultiFactor || !slices.Contains(first.AMR, user.AMRMFA) || first.AuthTime == 0 {
			t.Fatalf("the first ID token: %+v, want the multi-factor acr, mfa in amr and auth_time", first)
		}
		f.srv.Clock.Advance(time.Minute)
		next, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		again := f.idAuthentication(next)
		if again.ACR != first.ACR || !slices.Equal(again.AMR, first.AMR) || again.AuthTime != first.AuthTime {
			t.Errorf("the refreshed ID token: acr %q amr %v auth_time %d, want the first one's: acr %q amr %v auth_time %d",
				again.ACR, again.AMR, again.AuthTime, first.ACR, first.AMR, first.AuthTime)
		}
	})
}

// authentication is what an ID token says of the authentication.
type authentication struct {
	AMR      []string `json:"amr"`
	ACR      string   `json:"acr"`
	AuthTime int64    `json:"auth_time"`
}

func (f *fixture) idAuthentication(tok *oauth2.Token) authentication {
	f.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.provider.VerifierContext(f.ctx, &oidc.Config{ClientID: webClient}).Verify(f.ctx, raw)
	if err != nil {
		f.t.Fatalf("ID token: %v", err)
	}
	var a authentication
	if err := idt.Claims(&a); err != nil {
		f.t.Fatal(err)
	}
	return a
}
